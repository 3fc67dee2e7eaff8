// APD (docs/decoding.md "APD"): one step of a call's running rows, the dLLM's draft over each
// row's sliding lookahead, the causal LM's verification and the accept rule
// (native/kernels/apd_accept.h). The scheduler (the one decode loop) owns the rows and calls
// StepBackend::runApd with all of a call's running rows; the back ends share this runner, which
// batches the rows' forwards (one dLLM forward and one causal-LM forward per step where the rows'
// shapes allow it: "Batched rows" in apd_step.cc) on the back end's device, and chooses the
// drafts and targets there too (apd_tokens.h: the host's threads, or one CUDA kernel launch each,
// with only the token ids copied back); the accepted length is taken on the host.
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
  // Most bytes of float32 logits [B, K, vocab] one batched forward may return: larger groups of
  // rows are cut into several forwards (the scheduler's LOCALLEAP_LOGITS_BUDGET_BYTES budget).
  int64_t logitsBudget = int64_t(1) << 30;
};

class ApdRunner {
 public:
  // dllm / ar: the two archives' modules on `device`; the dtypes are those of their logits.
  ApdRunner(torch::jit::Module& dllm, torch::jit::Module& ar, const ModelConfig& config, at::ScalarType dllmDtype,
            at::ScalarType arDtype, c10::Device device);
  // Runs one step of each of `rows` (docs/decoding.md "One step of a row", steps 1 to 6), their
  // forwards batched; each row's result is the one it gets stepped alone, bit for bit on CPU float32.
  void step(const std::vector<ApdRowState*>& rows, const ApdStepParams& params);

  // A row's scratch of one step (the logits pointers point into float32 copies kept for the step,
  // on the runner's device).
  struct Work {
    ApdRowState* row = nullptr;
    int L = 0, c = 0, right = 0, n = 0, end = 0;
    bool verify = false;  // the causal LM runs for this row this step
    const float* zd = nullptr;  // float32 [n, V'], position c + i
    const float* za = nullptr;  // float32 [end - c, V'], row i predicts position c + 1 + i
    std::vector<int32_t> draft, target;
    std::vector<uint64_t> bases;
  };

 private:
  torch::jit::Module& dllm_;
  torch::jit::Module& ar_;
  ModelConfig config_;
  at::ScalarType dllmDtype_, arDtype_;
  c10::Device device_;
  enum class DllmMethod { kLogits, kFull, kStep };
  void dllmGroup(const std::vector<int>& group, DllmMethod method, int windowWidth, const ApdStepParams& p);
  void arGroup(const std::vector<int>& group, bool full);
  // {K, T} of a forward over `group`: its shared outputs and its columns.
  std::pair<int, int> dllmShape(const std::vector<int>& group) const;
  std::pair<int, int> arShape(const std::vector<int>& group, bool full) const;
  BlockLogitsCall& dllmLogits(bool padded);
  KvCacheCall& dllmKv(bool padded);
  KvCacheCall& arKv(bool padded);

  // [0]: without left_pad (a lone row, or rows of one alignment), [1]: with it.
  std::optional<BlockLogitsCall> dllmLogits_[2];
  std::optional<KvCacheCall> dllmKv_[2], arKv_[2];
  std::vector<Work> work_;
  std::vector<at::Tensor> logits_;  // this step's float32 logits (on device_), which Work points into
};

// The APD-specific checks of a request (after validateRequest's common ones): INVALID_ARGUMENT,
// CACHE_UNSUPPORTED (kvWindow on a format-v1 dLLM), PROMPT_TOO_LONG (the AR's maxLength).
void validateApdRequest(const GenerateRequest& request, const ModelConfig& config);

// Probes the causal archive's methods (cache_full, cache_step with causal semantics, logits_at):
// MODEL_METHOD_MISSING / MODEL_PROBE_FAILED. Returns the dtype of its logits.
at::ScalarType probeCausalArchive(torch::jit::Module& ar, const ApdModelConfig& config, const c10::Device& device);

}  // namespace localleap
