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
  kModelUnsafe,          // the archive's code uses an operator outside op_allowlist.h
  kModelMetadataInvalid, // localleap.json too large, or a value the engine cannot take
  kTokenizerInvalid,     // an embedded tokenizer file over its size limit
  kPromptTooLong,
  kCacheUnsupported,     // a KV cache asked of a format-v1 archive
  kAdaptiveBlockUnsupported,  // adaptive blocks asked of an archive without delimiterIds
  kLearnedFilterInvalid, // learned_filter.json over its size limit, or weights the engine cannot take
  kLearnedFilterMissing, // strategy learned on an archive without learned_filter.json
  kCudaUnavailable,
  kOutOfMemory,
  kResourceExhausted,    // the OS refused a thread (or another non-memory resource)
  kAborted,
  kModelDisposed,
  kInternal,
};

const char* errorCodeName(ErrorCode code);

class EngineError : public std::runtime_error {
 public:
  EngineError(ErrorCode code, const std::string& message, std::string field = "")
      : std::runtime_error(message), code_(code), field_(std::move(field)) {}
  ErrorCode code() const { return code_; }
  // What the error is about, when it names one thing: a metadata field, an operator.
  const std::string& field() const { return field_; }

 private:
  ErrorCode code_;
  std::string field_;
};

// Runs `fn`, turning libtorch and standard exceptions into EngineError (out-of-memory kept apart).
template <typename Fn>
auto translateErrors(const char* what, Fn&& fn) -> decltype(fn());

// The message of the exception in flight, as an EngineError (use inside catch (...)).
EngineError currentErrorAsEngineError(const char* what);

}  // namespace localleap

#include "errors_inl.h"
