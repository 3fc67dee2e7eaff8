// One application of the commit rule to given logits, on either back end: the test hook behind
// addon.applyRule (exactness of the CUDA kernel against the CPU rule) and addon.benchKernel.
#pragma once
#include <stdint.h>

#include <vector>

#include "../kernels/rule_types.h"
#include "generation.h"

namespace localleap {

enum class LogitsDType { kFloat32, kBFloat16, kFloat16 };

struct RuleCase {
  LogitsDType dtype = LogitsDType::kFloat32;
  std::vector<float> logitsF32;       // when dtype is float32
  std::vector<uint16_t> logitsBits;   // bf16 / fp16 bit patterns otherwise
  int batch = 0, blockLength = 0, vocab = 0;
  std::vector<int32_t> block;         // [batch, blockLength]
  // One per row (rows may mix strategies, thresholds, temperatures): blockStart 0, canvasLength
  // and blockLength the case's blockLength, logitsOffset 0, genStart -genOffset.
  std::vector<RuleParams> params;
  std::vector<uint64_t> seeds;        // [batch]
  std::vector<int32_t> rowSteps;      // [batch]
  LearnedFilter filter;               // strategy learned (none: blockLength 0)
};

struct RuleCaseResult {
  std::vector<int32_t> tokens;        // -1 where not masked
  std::vector<float> conf;            // 0 where not masked
  std::vector<uint8_t> commit;
  std::vector<int32_t> block;         // after the commit
  std::vector<int32_t> blockLengths;  // [batch] StepState::blockLengthOut (adaptive blocks)
};

// Throws EngineError(INVALID_ARGUMENT) on inconsistent sizes.
void checkRuleCase(const RuleCase& c);
RuleCaseResult runRuleCaseCpu(const RuleCase& c);

#ifdef LOCALLEAP_WITH_CUDA
RuleCaseResult runRuleCaseCuda(const RuleCase& c);

struct KernelBench {
  double medianMs = 0, minMs = 0;
  double bytes = 0;
};
// Times the fused kernel on random logits with CUDA events (`iterations` launches, rotating
// through enough input sets to defeat the L2 cache).
KernelBench benchKernelCuda(int batch, int blockLength, int vocab, LogitsDType dtype, Strategy strategy,
                            int iterations, uint64_t seed);
#endif

}  // namespace localleap
