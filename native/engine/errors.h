// Typed engine errors: every failure that reaches JavaScript carries one of these codes
// (lib/bindings/AddonTypes.ts NativeErrorCode) and a message that says what to do.
#pragma once
#include <stdexcept>
#include <string>

namespace localleap {

enum class ErrorCode {
  kInvalidArgument,
  kModelNotFound,
  kModelCorrupt,
  kModelIncompatible,
  kModelMethodMissing,
  kModelProbeFailed,
  kPromptTooLong,
  kCudaUnavailable,
  kOutOfMemory,
  kAborted,
  kModelDisposed,
  kInternal,
};

const char* errorCodeName(ErrorCode code);

class EngineError : public std::runtime_error {
 public:
  EngineError(ErrorCode code, const std::string& message) : std::runtime_error(message), code_(code) {}
  ErrorCode code() const { return code_; }

 private:
  ErrorCode code_;
};

// Runs `fn`, turning libtorch and standard exceptions into EngineError (out-of-memory kept apart).
template <typename Fn>
auto translateErrors(const char* what, Fn&& fn) -> decltype(fn());

// The message of the exception in flight, as an EngineError (use inside catch (...)).
EngineError currentErrorAsEngineError(const char* what);

}  // namespace localleap

#include "errors_inl.h"
