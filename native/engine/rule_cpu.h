// The commit rule on the host: the reference the CUDA kernel must match bit for bit, and the
// CPU back end's step.
#pragma once
#include <stdint.h>

#include "../kernels/rule_types.h"

namespace localleap {

// One step of the rule for `batch` rows: logits [batch, blockLength, vocab] float32 (upcast
// from bf16/fp16 beforehand), canvas [batch, params.canvasLength] int64, updated in place.
// Reads and updates the per-row state and writes the step's status (StepState).
void applyRuleCpu(const float* logits, int batch, int blockLength, int vocab, int64_t* canvas,
                  const RuleParams& params, const StepState& state);

}  // namespace localleap
