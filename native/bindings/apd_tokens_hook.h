// addon.applyApdTokens(case, device): the test hook behind the APD token kernel's exactness checks.
#pragma once
#include <napi.h>

namespace localleap {

Napi::Value applyApdTokens(const Napi::CallbackInfo& info);

}  // namespace localleap
