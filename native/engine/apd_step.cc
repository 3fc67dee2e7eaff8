#include "apd_step.h"

#include <algorithm>
#include <cmath>

#include "../kernels/apd_accept.h"
#include "errors.h"
#include "kv_cache.h"
#include "step_backend.h"

namespace localleap {
namespace {

[[noreturn]] void invalid(const std::string& message) { throw EngineError(ErrorCode::kInvalidArgument, message); }

// The first `width` columns of logits [1, K, V] as host float32 [K, width], contiguous.
at::Tensor hostColumns(const at::Tensor& logits, int width) {
  return logits.select(0, 0).narrow(1, 0, width).to(at::kFloat).to(at::kCPU).contiguous();
}

}  // namespace

ApdRunner::ApdRunner(torch::jit::Module& dllm, torch::jit::Module& ar, const ModelConfig& config,
                     at::ScalarType dllmDtype, at::ScalarType arDtype, c10::Device device)
    : dllm_(dllm), ar_(ar), config_(config), dllmDtype_(dllmDtype), arDtype_(arDtype), device_(device) {}

void ApdRunner::step(ApdRowState& row, const ApdStepParams& p) {
  const int L = (int)row.canvas.size(), P = row.promptLength, c = row.cursor;
  const int right = std::min(c + p.maxLookahead, L), n = right - c;
  const int s = config_.logitsShifted ? 1 : 0;
  const int V = p.vocabWidth;
  auto longOpts = at::TensorOptions().dtype(at::kLong).device(device_);
  auto toDevice = [&](const int64_t* data, int64_t count) {
    return at::from_blob(const_cast<int64_t*>(data), {1, count}, at::kLong).clone().to(device_);
  };
  at::Tensor leftPad = at::zeros({1}, longOpts);

  // 2. The dLLM's forward over the canvas cut at `right`, outputs arange(c - s, right - s).
  at::Tensor ids = toDevice(row.canvas.data(), right);
  at::Tensor outputs = at::arange(c - s, right - s, longOpts);
  at::Tensor logits;
  const char* method;
  if (p.kvWindow == 0) {
    if (!dllmLogits_) dllmLogits_.emplace(dllm_, false);
    logits = (*dllmLogits_)(ids, outputs, leftPad);
    method = "logits_at";
  } else {
    if (!dllmKv_) dllmKv_.emplace(dllm_, false);
    if (row.steps == 0) {
      row.dllmKv = allocateKvCache(config_.cache, dllmDtype_, 1, L, device_);
      at::Tensor view = row.dllmKv.narrow(4, 0, right);
      logits = dllmKv_->full(ids, outputs, leftPad, view);
      method = "cache_full";
    } else {
      const int left = std::max(0, row.prevCursor - p.kvWindow + 1);
      at::Tensor window = at::arange(left, right, longOpts);
      at::Tensor view = row.dllmKv.narrow(4, 0, right);
      logits = dllmKv_->step(ids, window, outputs - left, leftPad, view);
      method = "cache_step";
    }
  }
  checkLogits(logits, 1, n, config_.vocabSize, method, device_);
  at::Tensor zd = hostColumns(logits, V);
  const float* zdp = zd.data_ptr<float>();

  // 3. The draft, with the Gumbel noise of (seed, r, d - P) when sampling.
  const bool sampling = p.invTemperature > 0.0f;
  draft_.assign(n, 0);
  std::vector<uint64_t> bases(n);
  for (int i = 0; i < n; ++i) {
    bases[i] = apd::noiseBase(row.seed, (uint64_t)row.steps, (uint64_t)(c + i - P));
    draft_[i] = apd::draftToken(zdp + (int64_t)i * V, V, config_.maskId, sampling, p.invTemperature, bases[i]);
  }

  int a = n;  // one position (always accepted), or R = 1 (the target is the draft)
  if (n > 1 && p.mixtureWeight != 1.0f) {
    // 4. The causal LM over the canvas with the draft, up to its last token but one.
    const int end = right - 1;
    std::vector<int64_t> arRow(row.canvas.begin(), row.canvas.begin() + end);
    for (int d = c; d < end; ++d) arRow[d] = draft_[d - c];
    at::Tensor arIds = toDevice(arRow.data(), end);
    if (!arKv_) arKv_.emplace(ar_, false);
    at::Tensor arLogits;
    if (row.arLength == 0) {
      if (!row.arKv.defined()) row.arKv = allocateKvCache(config_.ar.cache, arDtype_, 1, L, device_);
      arLogits = arKv_->full(arIds, at::arange(c, end, longOpts), leftPad, row.arKv);
      method = "cache_full";
    } else {
      at::Tensor view = row.arKv.narrow(4, 0, end);
      arLogits = arKv_->step(arIds, at::arange(row.arLength, end, longOpts),
                             at::arange(c - row.arLength, end - row.arLength, longOpts), leftPad, view);
      method = "cache_step";
    }
    checkLogits(arLogits, 1, end - c, config_.ar.vocabSize, method, device_);
    row.arForwards += 1;
    at::Tensor za = hostColumns(arLogits, V);  // row i predicts position c + 1 + i
    const float* zap = za.data_ptr<float>();
    // 5. The target with the draft's own noise; 6. the longest agreeing prefix.
    const float r = p.mixtureWeight, q = 1.0f - r;
    target_.assign(n, 0);
    target_[0] = draft_[0];
    for (int i = 1; i < n; ++i) {
      target_[i] = apd::targetToken(zdp + (int64_t)i * V, zap + (int64_t)(i - 1) * V, V, config_.maskId, r, q,
                                    sampling, p.invTemperature, bases[i]);
    }
    a = apd::acceptLength(draft_.data(), target_.data(), n);
    row.arLength = std::min(c + a, end);
  }
  for (int i = 0; i < a; ++i) row.canvas[c + i] = draft_[i];
  row.lastFrom = c;
  row.lastCount = a;
  row.steps += 1;
  row.acceptedPerStep.push_back(a);
  row.prevCursor = c;
  row.cursor = c + a;
}

void StepBackend::runApd(ApdRowState& row, const ApdStepParams& params) {
  if (!apd_) throw EngineError(ErrorCode::kInternal, "strategy apd without a causal LM attached: this is a bug");
  apd_->step(row, params);
}

void validateApdRequest(const GenerateRequest& r, const ModelConfig& c) {
  if (r.blockLength != r.genLength) {
    invalid("strategy apd decodes left to right in one block: blockLength must be genLength (" +
            std::to_string(r.genLength) + ") or left out");
  }
  if (!std::isfinite(r.mixtureWeight) || r.mixtureWeight < 0.0f || r.mixtureWeight > 1.0f) {
    invalid("mixtureWeight must be a number in [0, 1]");
  }
  if (r.kvWindow < 0) invalid("kvWindow must be an integer >= 1, or null for no dLLM KV cache");
  if (r.maxLookahead < 1) invalid("maxLookahead must be an integer >= 1");
  if (!c.ar.loaded) {
    invalid("strategy apd needs the causal LM: load the model with apd: { arModelPath } (loadModel)");
  }
  if (r.kvWindow > 0 && !c.cache.available()) {
    throw EngineError(ErrorCode::kCacheUnsupported,
                      "this dLLM archive is model format v1, which has no KV-cache methods: strategy apd runs "
                      "with kvWindow null only. Re-export it (format v2) to use a kvWindow.");
  }
  const int width = c.ar.vocabWidth;
  for (size_t b = 0; b < r.prompts.size(); ++b) {
    for (int32_t id : r.prompts[b]) {
      if (id >= width) {
        invalid("prompt " + std::to_string(b) + " has token id " + std::to_string(id) + " outside [0, " +
                std::to_string(width) + ") (the ids both models of APD share)");
      }
    }
    const long long total = (long long)r.prompts[b].size() + r.genLength;
    if (total > c.ar.maxLength) {
      throw EngineError(ErrorCode::kPromptTooLong,
                        "prompt " + std::to_string(b) + " has " + std::to_string(r.prompts[b].size()) +
                            " tokens; with genLength " + std::to_string(r.genLength) + " that is " +
                            std::to_string(total) + " positions, over the causal LM's maxLength " +
                            std::to_string(c.ar.maxLength) + ".");
    }
  }
}

at::ScalarType probeCausalArchive(torch::jit::Module& ar, const ApdModelConfig& config, const c10::Device& device) {
  for (const char* name : {"logits_at", "cache_full", "cache_step"}) {
    if (!ar.find_method(name)) {
      throw EngineError(ErrorCode::kModelMethodMissing,
                        std::string("the causal LM archive (apd.arModelPath) has no method ") + name +
                            " (docs/model-format.md \"Causal-LM archives\"): re-export it with tools/export_hf.py",
                        name);
    }
  }
  const int64_t n = std::min<int64_t>(8, config.maxLength);
  auto longOpts = at::TensorOptions().dtype(at::kLong).device(device);
  at::Tensor ids = at::full({1, n}, (int64_t)config.eosId, longOpts);
  at::Tensor positions = at::arange(n, longOpts);
  at::Tensor leftPad = at::zeros({1}, longOpts);
  at::Tensor logits = BlockLogitsCall(ar, false)(ids, positions, leftPad);
  checkLogits(logits, 1, n, config.vocabSize, "logits_at", device);
  const at::ScalarType dtype = logits.scalar_type();
  at::Tensor kv = allocateKvCache(config.cache, dtype, 1, n, device);
  KvCacheCall call(ar, false);
  at::Tensor full = call.full(ids, positions, leftPad, kv);
  checkLogits(full, 1, n, config.vocabSize, "cache_full", device);
  // Causal semantics: the last position run over the cache gives the full forward's logit there.
  at::Tensor last = call.step(ids, at::arange(n - 1, n, longOpts), at::zeros({1}, longOpts), leftPad, kv);
  checkLogits(last, 1, 1, config.vocabSize, "cache_step", device);
  return dtype;
}

}  // namespace localleap
