// What a request must satisfy, and the rule parameters it implies. The decode loop itself is the
// scheduler (scheduler.h).
#pragma once
#include "generation.h"

namespace localleap {

// Throws INVALID_ARGUMENT, PROMPT_TOO_LONG or LEARNED_FILTER_MISSING naming the first problem.
void validateRequest(const GenerateRequest& request, const ModelConfig& config);

// The rule parameters a request implies (blockStart is set per block by the back end).
RuleParams ruleParamsFor(const GenerateRequest& request, const ModelConfig& config, int canvasLength,
                         int genStart);

// Strategy learned's acceptance bound on the filter's logit: float32 of log(t / (1 - t)) computed
// in double; +inf for t >= 1 (nothing beyond the top-1), -inf for t <= 0.
float learnedLogitThreshold(double acceptThreshold);

}  // namespace localleap
