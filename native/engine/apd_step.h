// APD (docs/decoding.md "APD"): one step of one row, the dLLM's draft over a sliding lookahead,
// the causal LM's verification in one forward and the accept rule (native/kernels/apd_accept.h).
// The scheduler (the one decode loop) owns the rows and calls StepBackend::runApd; the back ends
// share this runner, which runs both forwards on the back end's device and the accept rule on the
// host over the logits copied back (correct first: a kernel may replace it later).
#pragma once
#include <torch/script.h>

#include <optional>
#include <vector>

#include "generation.h"
#include "model_call.h"

namespace localleap {

// One APD row's decode state (its cursor instead of a block), kept by the scheduler's Row.
struct ApdRowState {
  std::vector<int64_t> canvas;  // prompt, then the generation span: the row's own positions, no padding
  int promptLength = 0;         // P
  int cursor = 0;               // c: the first masked position
  int prevCursor = 0;           // the cursor at the previous step's start
  int arLength = 0;             // AR positions [0, arLength) hold keys/values of committed tokens
  int steps = 0;                // dLLM forwards (the row's step index r)
  int arForwards = 0;
  uint64_t seed = 0;
  std::vector<int32_t> acceptedPerStep;
  at::Tensor dllmKv, arKv;      // allocated by the runner at the row's first step (on the device)
  // The last step's commit: tokens at positions [lastFrom, lastFrom + lastCount).
  int lastFrom = 0, lastCount = 0;
};

// R, W (0: no dLLM cache), M, the temperature's inverse (0: greedy), the shared width V'.
struct ApdStepParams {
  float mixtureWeight = 0.7f;
  int kvWindow = 16;
  int maxLookahead = 100;
  float invTemperature = 0.0f;
  int vocabWidth = 0;
};

class ApdRunner {
 public:
  // dllm / ar: the two archives' modules on `device`; the dtypes are those of their logits.
  ApdRunner(torch::jit::Module& dllm, torch::jit::Module& ar, const ModelConfig& config, at::ScalarType dllmDtype,
            at::ScalarType arDtype, c10::Device device);
  // Runs one step of `row` (docs/decoding.md "One step of a row", steps 1 to 6).
  void step(ApdRowState& row, const ApdStepParams& params);

 private:
  torch::jit::Module& dllm_;
  torch::jit::Module& ar_;
  ModelConfig config_;
  at::ScalarType dllmDtype_, arDtype_;
  c10::Device device_;
  std::optional<BlockLogitsCall> dllmLogits_;
  std::optional<KvCacheCall> dllmKv_, arKv_;
  std::vector<int32_t> draft_, target_;
};

// The APD-specific checks of a request (after validateRequest's common ones): INVALID_ARGUMENT,
// CACHE_UNSUPPORTED (kvWindow on a format-v1 dLLM), PROMPT_TOO_LONG (the AR's maxLength).
void validateApdRequest(const GenerateRequest& request, const ModelConfig& config);

// Probes the causal archive's methods (cache_full, cache_step with causal semantics, logits_at):
// MODEL_METHOD_MISSING / MODEL_PROBE_FAILED. Returns the dtype of its logits.
at::ScalarType probeCausalArchive(torch::jit::Module& ar, const ApdModelConfig& config, const c10::Device& device);

}  // namespace localleap
