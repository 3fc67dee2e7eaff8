#include "forward_bench.h"

#include <algorithm>
#include <chrono>
#include <vector>

#include "errors.h"
#include "model_call.h"

namespace localleap {

ForwardBenchResult benchForward(torch::jit::Module& module, const c10::Device& device, int vocab,
                                const ForwardBenchRequest& r) {
  if (r.batch < 1 || r.promptLength < 1 || r.blockLength < 1 || r.genLength < r.blockLength || r.iterations < 1) {
    throw EngineError(ErrorCode::kInvalidArgument, "benchForward needs positive sizes and iterations");
  }
#ifdef LOCALLEAP_WITH_CUDA
  if (device.is_cuda()) return benchForwardCuda(module, device, vocab, r);
#endif
  at::Tensor ids = at::randint(vocab, {r.batch, r.promptLength + r.genLength}, at::kLong);
  at::Tensor positions = at::arange(r.promptLength, r.promptLength + r.blockLength, at::kLong);
  at::Tensor none = at::zeros({r.batch}, at::kLong);
  BlockLogitsCall call(module, false);
  for (int i = 0; i < 2; ++i) call(ids, positions, none);
  std::vector<double> times;
  for (int i = 0; i < r.iterations; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    call(ids, positions, none);
    times.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(times.begin(), times.end());
  return ForwardBenchResult{times[times.size() / 2], times.front(), false};
}

}  // namespace localleap
