// APD's draft and target tokens of one step (native/kernels/apd_accept.h chooseToken per task), on
// the back end that holds the logits: the host's intra-op threads over host memory, or the device
// kernel (native/kernels/apd_tokens_kernel.cu) over device memory, which returns only the ids.
// Both choose the same token for every task, bit for bit.
#pragma once
#include <c10/core/Device.h>

#include <vector>

#include "../kernels/apd_accept.h"

namespace localleap {

// tasks' logits must live on `device` (CPU: host memory).
std::vector<int32_t> chooseApdTokens(const std::vector<apd::TokenTask>& tasks, const apd::TokenRule& rule,
                                     const c10::Device& device);

#ifdef LOCALLEAP_WITH_CUDA
// The device half (apd_tokens_cuda.cc): queues the kernel on the current CUDA stream and waits for the ids.
std::vector<int32_t> chooseApdTokensCuda(const std::vector<apd::TokenTask>& tasks, const apd::TokenRule& rule,
                                         const c10::Device& device);
#endif

}  // namespace localleap
