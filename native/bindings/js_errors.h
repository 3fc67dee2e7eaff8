// EngineError -> a JS Error whose `code` is the NativeErrorCode of lib/bindings/AddonTypes.ts.
#pragma once
#include <napi.h>

#include "../engine/errors.h"

namespace localleap {

Napi::Error toJsError(Napi::Env env, const EngineError& error);

// Throws a JS TypeError with code INVALID_ARGUMENT (for bad arguments from JS).
[[noreturn]] void throwInvalidArgument(Napi::Env env, const std::string& message);

}  // namespace localleap
