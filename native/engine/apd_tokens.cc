#include "apd_tokens.h"

#include <ATen/Parallel.h>

#include "errors.h"

namespace localleap {

std::vector<int32_t> chooseApdTokens(const std::vector<apd::TokenTask>& tasks, const apd::TokenRule& rule,
                                     const c10::Device& device) {
  if (device.is_cuda()) {
#ifdef LOCALLEAP_WITH_CUDA
    return chooseApdTokensCuda(tasks, rule, device);
#else
    throw EngineError(ErrorCode::kInternal, "APD tokens on a CUDA device in the CPU build: this is a bug");
#endif
  }
  std::vector<int32_t> tokens(tasks.size());
  // Tasks are independent; a grain of 4 positions (4 x V' logits each) keeps threads busy at batch 1.
  at::parallel_for(0, (int64_t)tasks.size(), 4, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) tokens[(size_t)i] = apd::chooseToken(tasks[(size_t)i], rule);
  });
  return tokens;
}

}  // namespace localleap
