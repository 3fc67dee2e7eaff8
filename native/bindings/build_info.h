#pragma once
#include <napi.h>

namespace localleap {

// addon.buildInfo(): AddonBuildInfo.
Napi::Value buildInfo(const Napi::CallbackInfo& info);

}  // namespace localleap
