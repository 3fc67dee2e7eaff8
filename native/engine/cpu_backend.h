// The CPU back end: libtorch forward (whole canvas or cached window), then the host rule (rule_cpu.h).
#pragma once
#include <memory>

#include "step_backend.h"

namespace localleap {

// cacheDtype: the model's dtype, the KV cache's (format v2; unused when config.cache is unavailable).
std::unique_ptr<StepBackend> makeCpuBackend(torch::jit::Module& module, const ModelConfig& config,
                                            at::ScalarType cacheDtype);

}  // namespace localleap
