// Per-environment state of the addon (worker threads and the main thread each get their own):
// the classes it defines. Nothing else is shared between models.
#pragma once
#include <napi.h>

namespace localleap {

struct AddonData {
  Napi::FunctionReference abortTokenClass;
  Napi::FunctionReference modelClass;
};

}  // namespace localleap
