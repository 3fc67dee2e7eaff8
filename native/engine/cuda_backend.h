// The CUDA back end: libtorch forward on the block + the fused commit kernel, the pair captured
// once per decode shape as a CUDA graph and replayed for every later step.
#pragma once
#include <memory>

#include "step_backend.h"

namespace localleap {

std::unique_ptr<StepBackend> makeCudaBackend(torch::jit::Module& module, int vocab, bool logitsShifted,
                                             c10::Device device);

}  // namespace localleap
