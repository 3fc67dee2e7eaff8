// addon.applyRule(case, device) and addon.benchKernel(request): test and benchmark hooks.
#pragma once
#include <napi.h>

namespace localleap {

Napi::Value applyRule(const Napi::CallbackInfo& info);
Napi::Value benchKernel(const Napi::CallbackInfo& info);

}  // namespace localleap
