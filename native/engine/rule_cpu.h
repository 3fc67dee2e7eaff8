// The commit rule on the host: the reference the CUDA kernel must match bit for bit, and the
// CPU back end's step.
#pragma once
#include <stdint.h>

#include "../kernels/rule_types.h"

namespace localleap {

// One step of the rule for `batch` rows, each with its own parameters params[b] (strategy,
// thresholds, block position and length): logits [batch, logitsPerRow, vocab] float32 (upcast
// from bf16/fp16 beforehand; row b's block position i reads logits[b, params[b].logitsOffset + i]),
// canvas [batch, W] int64 (W = params[b].canvasLength, the same for every row), updated in place.
// State arrays of [B*Lb] cells have a row stride of `blockStride` (>= every params[b].blockLength).
// Reads and updates the per-row state and writes the step's status (StepState). A row whose
// block holds no mask takes no step (a finished row, or a bucket's padding row).
void applyRuleCpu(const float* logits, int batch, int logitsPerRow, int blockStride, int vocab, int64_t* canvas,
                  const RuleParams* params, const StepState& state);

}  // namespace localleap
