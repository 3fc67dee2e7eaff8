// Launcher of APD's token kernel: the draft or target token of each task (apd_accept.h's
// chooseToken) over float32 logits in device memory, one CTA per task; only the ids are written.
// Plain CUDA runtime types only, so this compiles without libtorch.
#pragma once
#include <cuda_runtime.h>

#include "apd_accept.h"

namespace localleap {

struct ApdTokensLaunch {
  const apd::TokenTask* tasks;  // device memory, `count` of them
  int count;
  apd::TokenRule rule;
  int32_t* tokens;              // device memory, `count` ids (-1: no token, as chooseToken)
};

// Queues the kernel on `stream`; returns the launch error, if any. Never synchronises.
cudaError_t launchApdTokens(const ApdTokensLaunch& launch, cudaStream_t stream);

}  // namespace localleap
