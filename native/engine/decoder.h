// The semi-autoregressive block loop and the step loop, written once for every back end.
#pragma once
#include <atomic>

#include "generation.h"
#include "step_backend.h"

namespace localleap {

// Throws INVALID_ARGUMENT or PROMPT_TOO_LONG naming the first problem.
void validateRequest(const GenerateRequest& request, const ModelConfig& config);

// The rule parameters a request implies (blockStart is set per block by the back end).
RuleParams ruleParamsFor(const GenerateRequest& request, const ModelConfig& config, int canvasLength,
                         int genStart);

// Decodes every row of the request; `observer` (may be empty) sees each step's commits;
// `abort` is checked before every step (ABORTED); so is `finish`, which ends the decode there and
// returns the canvas as it is (still-masked positions hold the mask id).
GenerateResult runDecode(StepBackend& backend, const ModelConfig& config, const GenerateRequest& request,
                         const StepObserver& observer, const std::atomic<bool>* abort,
                         const std::atomic<bool>* finish = nullptr);

}  // namespace localleap
