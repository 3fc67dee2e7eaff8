// The CPU back end: libtorch forward on the current block, then the host rule (rule_cpu.h).
#pragma once
#include <memory>

#include "step_backend.h"

namespace localleap {

std::unique_ptr<StepBackend> makeCpuBackend(torch::jit::Module& module, int vocab, bool logitsShifted);

}  // namespace localleap
