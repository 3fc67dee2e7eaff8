// The CUDA back end: libtorch forward (whole canvas or cached window) + the fused commit kernel,
// the pair captured as a CUDA graph per decode shape and step kind and replayed for later steps.
#pragma once
#include <memory>

#include "step_backend.h"

namespace localleap {

std::unique_ptr<StepBackend> makeCudaBackend(torch::jit::Module& module, const ModelConfig& config,
                                             at::ScalarType cacheDtype, c10::Device device);

}  // namespace localleap
