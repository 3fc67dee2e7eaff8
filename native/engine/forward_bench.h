// Timing of the bare block forward (logits_at, no commit rule), the baseline the engine's step
// is compared against: the same method, shapes and per-step host synchronisation as a step.
#pragma once
#include <torch/script.h>

namespace localleap {

struct ForwardBenchRequest {
  int batch = 1;
  int promptLength = 128;
  int genLength = 256;
  int blockLength = 32;
  int iterations = 50;
  bool cudaGraph = true;
};

struct ForwardBenchResult {
  double medianMs = 0;
  double minMs = 0;
  bool cudaGraph = false;
};

ForwardBenchResult benchForward(torch::jit::Module& module, const c10::Device& device, int vocab,
                                const ForwardBenchRequest& request);

#ifdef LOCALLEAP_WITH_CUDA
ForwardBenchResult benchForwardCuda(torch::jit::Module& module, const c10::Device& device, int vocab,
                                    const ForwardBenchRequest& request);
#endif

}  // namespace localleap
