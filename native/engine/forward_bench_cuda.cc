#include <ATen/cuda/CUDAGraph.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <cuda_runtime.h>
#include <torch/version.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <vector>

#include "errors.h"
#include "forward_bench.h"
#include "model_call.h"

namespace localleap {

ForwardBenchResult benchForwardCuda(torch::jit::Module& module, const c10::Device& device, int vocab,
                                    const ForwardBenchRequest& r) {
  c10::cuda::CUDAGuard deviceGuard(device);
  cudaStream_t raw = nullptr;
  if (cudaStreamCreateWithFlags(&raw, cudaStreamNonBlocking) != cudaSuccess) {
    throw EngineError(ErrorCode::kInternal, "could not create a CUDA stream");
  }
  ForwardBenchResult result;
  {
    c10::cuda::CUDAStream stream = c10::cuda::getStreamFromExternal(raw, device.index());
    c10::cuda::CUDAStreamGuard guard(stream);
    auto longOpts = at::TensorOptions().dtype(at::kLong).device(device);
    at::Tensor ids = at::randint(vocab, {r.batch, r.promptLength + r.genLength}, longOpts);
    at::Tensor positions = at::arange(r.promptLength, r.promptLength + r.blockLength, longOpts);
    at::Tensor none = at::zeros({r.batch}, longOpts);
    BlockLogitsCall call(module, false);
    for (int i = 0; i < 3; ++i) call(ids, positions, none);
    cudaStreamSynchronize(raw);
    std::unique_ptr<at::cuda::CUDAGraph> graph;
    at::Tensor keep;
    if (r.cudaGraph) {
      graph = std::make_unique<at::cuda::CUDAGraph>();
#if TORCH_VERSION_MAJOR >= 2
      graph->capture_begin({0, 0}, cudaStreamCaptureModeThreadLocal);
#else
      graph->capture_begin();
#endif
      keep = call(ids, positions, none);
      graph->capture_end();
      graph->replay();
      cudaStreamSynchronize(raw);
    }
    std::vector<double> times;
    for (int i = 0; i < r.iterations; ++i) {
      auto t0 = std::chrono::steady_clock::now();
      if (graph) {
        graph->replay();
      } else {
        call(ids, positions, none);
      }
      cudaStreamSynchronize(raw);  // a step waits for its result too
      times.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    }
    std::sort(times.begin(), times.end());
    result = ForwardBenchResult{times[times.size() / 2], times.front(), graph != nullptr};
    graph.reset();
  }
  cudaStreamDestroy(raw);
  return result;
}

}  // namespace localleap
