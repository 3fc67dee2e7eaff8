// What a request must satisfy, and the rule parameters it implies. The decode loop itself is the
// scheduler (scheduler.h).
#pragma once
#include "generation.h"

namespace localleap {

// Throws INVALID_ARGUMENT or PROMPT_TOO_LONG naming the first problem.
void validateRequest(const GenerateRequest& request, const ModelConfig& config);

// The rule parameters a request implies (blockStart is set per block by the back end).
RuleParams ruleParamsFor(const GenerateRequest& request, const ModelConfig& config, int canvasLength,
                         int genStart);

}  // namespace localleap
