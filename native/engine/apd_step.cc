#include "apd_step.h"

#include <algorithm>
#include <climits>
#include <cmath>
#include <map>

#include "../kernels/apd_accept.h"
#include "apd_tokens.h"
#include "errors.h"
#include "kv_cache.h"
#include "model_probe.h"
#include "step_backend.h"

namespace localleap {
namespace {

[[noreturn]] void invalid(const std::string& message) { throw EngineError(ErrorCode::kInvalidArgument, message); }

}  // namespace

// Batched rows. Each forward takes a group of rows at once, laid out so that each row's logits,
// and the keys/values it writes, are those of its forward alone (docs/decoding.md "APD", "Batched
// rows"):
// - the dLLM (bidirectional: a row must see exactly its canvas cut at its right end) right-aligns
//   the rows with left padding (left_pad, as the engine's other padded paths): row b's own column j
//   is the batch column j + T - right_b, and its n_b outputs are the last n_b of the shared ones.
//   logits_at and cache_full take every row of the step; cache_step runs a shared window of
//   columns [T - w, T), which is a row's own window [left, right) only when its width is w, or
//   when left = 0 (the columns before it are then padding): the rows are grouped by that width.
// - the causal LM (a query sees only the keys at or before it) left-aligns the rows' windows with
//   right padding after each row's end, which no real query sees: cache_full takes the rows of
//   their first verification (no left padding at all), cache_step the others (left padding
//   arLength_max - arLength_b, so every row's window starts at column arLength_max).
// A group of one row is the unbatched call exactly (no padding, its own cache tensor); a larger
// group gathers its rows' caches into a zero-filled batch cache in its layout and scatters what
// the forward wrote back (copies: exact).
namespace {

at::Tensor hostIds(const std::vector<int64_t>& host, int64_t rows, int64_t cols, const c10::Device& device) {
  return at::from_blob(const_cast<int64_t*>(host.data()), {rows, cols}, at::kLong).clone().to(device);
}

// Positions of row k of a batch cache [layers, 2, B, H, L, D]: columns [from, from + count).
at::Tensor kvSlice(const at::Tensor& kv, int64_t k, int64_t from, int64_t count) {
  return kv.narrow(2, k, 1).narrow(4, from, count);
}

// Cuts `group` (in order) into forwards whose float32 logits [B, K, vocab] stay within `budget`
// bytes and whose columns T stay within maxColumns; shape(rows) is {K, T} of a forward over rows.
// A row is never cut (a forward of one row is the unbatched one, whatever its size).
template <class Shape>
std::vector<std::vector<int>> cutGroup(const std::vector<int>& group, int64_t budget, int64_t vocab,
                                       int maxColumns, Shape shape) {
  std::vector<std::vector<int>> out;
  std::vector<int> current;
  for (int i : group) {
    current.push_back(i);
    const auto [K, T] = shape(current);
    if (current.size() > 1 && ((int64_t)current.size() * K * vocab * 4 > budget || T > maxColumns)) {
      current.pop_back();
      out.push_back(std::move(current));
      current = {i};
    }
  }
  if (!current.empty()) out.push_back(std::move(current));
  return out;
}

}  // namespace

ApdRunner::ApdRunner(torch::jit::Module& dllm, torch::jit::Module& ar, const ModelConfig& config,
                     at::ScalarType dllmDtype, at::ScalarType arDtype, c10::Device device)
    : dllm_(dllm), ar_(ar), config_(config), dllmDtype_(dllmDtype), arDtype_(arDtype), device_(device) {}

BlockLogitsCall& ApdRunner::dllmLogits(bool padded) {
  auto& call = dllmLogits_[padded ? 1 : 0];
  if (!call) call.emplace(dllm_, padded);
  return *call;
}

KvCacheCall& ApdRunner::dllmKv(bool padded) {
  auto& call = dllmKv_[padded ? 1 : 0];
  if (!call) call.emplace(dllm_, padded);
  return *call;
}

KvCacheCall& ApdRunner::arKv(bool padded) {
  auto& call = arKv_[padded ? 1 : 0];
  if (!call) call.emplace(ar_, padded);
  return *call;
}

std::pair<int, int> ApdRunner::dllmShape(const std::vector<int>& group) const {
  int T = 0, nmax = 0;
  for (int i : group) {
    T = std::max(T, work_[i].right);
    nmax = std::max(nmax, work_[i].n);
  }
  return {nmax, T};
}

std::pair<int, int> ApdRunner::arShape(const std::vector<int>& group, bool full) const {
  int m = 0, T = 0, omin = INT_MAX;
  for (int i : group) m = std::max(m, full ? 0 : work_[i].row->arLength);
  for (int i : group) {
    const Work& w = work_[i];
    const int own = full ? 0 : w.row->arLength;
    T = std::max(T, m - own + w.end);
    omin = std::min(omin, w.c - own);
  }
  return {T - m - omin, T};
}

// 2. One dLLM forward over the rows `group` (indices into work_), right-aligned at column T.
void ApdRunner::dllmGroup(const std::vector<int>& group, DllmMethod m, int windowWidth, const ApdStepParams& p) {
  const int s = config_.logitsShifted ? 1 : 0;
  const int64_t B = (int64_t)group.size();
  const auto [nmax, T] = dllmShape(group);
  std::vector<int64_t> host((size_t)B * T, (int64_t)config_.padId), pads(B);
  bool padded = false;
  for (int64_t k = 0; k < B; ++k) {
    const Work& w = work_[group[k]];
    pads[k] = T - w.right;
    padded = padded || pads[k] > 0;
    std::copy(w.row->canvas.begin(), w.row->canvas.begin() + w.right, host.begin() + k * T + pads[k]);
  }
  auto longOpts = at::TensorOptions().dtype(at::kLong).device(device_);
  at::Tensor ids = hostIds(host, B, T, device_);
  at::Tensor leftPad = B == 1 ? at::zeros({1}, longOpts) : hostIds(pads, 1, B, device_).view({B});
  at::Tensor logits;
  const char* method;
  if (m == DllmMethod::kLogits) {
    logits = dllmLogits(padded)(ids, at::arange(T - nmax - s, T - s, longOpts), leftPad);
    method = "logits_at";
  } else if (m == DllmMethod::kFull) {
    at::Tensor outputs = at::arange(T - nmax - s, T - s, longOpts);
    for (int i : group) {
      Work& w = work_[i];
      w.row->dllmKv = allocateKvCache(config_.cache, dllmDtype_, 1, w.L, device_);
    }
    if (B == 1) {
      at::Tensor view = work_[group[0]].row->dllmKv.narrow(4, 0, T);
      logits = dllmKv(false).full(ids, outputs, leftPad, view);
    } else {
      at::Tensor kv = allocateKvCache(config_.cache, dllmDtype_, B, T, device_);
      logits = dllmKv(padded).full(ids, outputs, leftPad, kv);
      for (int64_t k = 0; k < B; ++k) {
        const Work& w = work_[group[k]];
        w.row->dllmKv.narrow(4, 0, w.right).copy_(kvSlice(kv, k, pads[k], w.right));
      }
    }
    method = "cache_full";
  } else {
    // The window is the last windowWidth columns; the outputs are relative to its start.
    at::Tensor window = at::arange(T - windowWidth, T, longOpts);
    at::Tensor outputs = at::arange(windowWidth - nmax - s, windowWidth - s, longOpts);
    if (B == 1) {
      at::Tensor view = work_[group[0]].row->dllmKv.narrow(4, 0, T);
      logits = dllmKv(false).step(ids, window, outputs, leftPad, view);
    } else {
      at::Tensor kv = allocateKvCache(config_.cache, dllmDtype_, B, T, device_);
      for (int64_t k = 0; k < B; ++k) {
        const Work& w = work_[group[k]];
        kvSlice(kv, k, pads[k], w.right).copy_(w.row->dllmKv.narrow(4, 0, w.right));
      }
      logits = dllmKv(padded).step(ids, window, outputs, leftPad, kv);
      for (int64_t k = 0; k < B; ++k) {
        const Work& w = work_[group[k]];
        w.row->dllmKv.narrow(4, 0, w.right).copy_(kvSlice(kv, k, pads[k], w.right));
      }
    }
    method = "cache_step";
  }
  checkLogits(logits, B, nmax, config_.vocabSize, method, device_);
  // float32 where the forward ran: the token choice reads it there (only ids cross to the host).
  at::Tensor z = logits.narrow(2, 0, p.vocabWidth).to(at::kFloat).contiguous();
  logits_.push_back(z);
  const float* base = z.data_ptr<float>();
  for (int64_t k = 0; k < B; ++k) {
    Work& w = work_[group[k]];
    w.zd = base + (k * nmax + (nmax - w.n)) * (int64_t)p.vocabWidth;
  }
}

// 4. One causal-LM forward over the rows `group`: cache_full (full: each row's first verification)
// or cache_step, each row's window starting at one column, right padding after each row's end.
void ApdRunner::arGroup(const std::vector<int>& group, bool full) {
  const int64_t B = (int64_t)group.size();
  int m = 0;  // the window's first column: the largest arLength (0 for cache_full)
  for (int i : group) m = std::max(m, full ? 0 : work_[i].row->arLength);
  const auto [K, T] = arShape(group, full);
  const int omin = T - m - K;  // the first shared output, relative to the window's start
  std::vector<int64_t> pads(B);
  for (int64_t k = 0; k < B; ++k) pads[k] = m - (full ? 0 : work_[group[k]].row->arLength);
  std::vector<int64_t> host((size_t)B * T, (int64_t)config_.ar.eosId);
  bool padded = false;
  for (int64_t k = 0; k < B; ++k) {
    const Work& w = work_[group[k]];
    padded = padded || pads[k] > 0;
    int64_t* dst = host.data() + k * T + pads[k];
    std::copy(w.row->canvas.begin(), w.row->canvas.begin() + w.end, dst);
    for (int d = w.c; d < w.end; ++d) dst[d] = w.draft[d - w.c];
  }
  auto longOpts = at::TensorOptions().dtype(at::kLong).device(device_);
  at::Tensor ids = hostIds(host, B, T, device_);
  at::Tensor leftPad = B == 1 ? at::zeros({1}, longOpts) : hostIds(pads, 1, B, device_).view({B});
  at::Tensor outputs = at::arange(omin, T - m, longOpts);
  at::Tensor logits;
  const char* method;
  for (int i : group) {
    Work& w = work_[i];
    if (!w.row->arKv.defined()) w.row->arKv = allocateKvCache(config_.ar.cache, arDtype_, 1, w.L, device_);
  }
  if (full) {
    // No left padding: the call without left_pad, as a lone row's.
    if (B == 1) {
      logits = arKv(false).full(ids, outputs, leftPad, work_[group[0]].row->arKv);
    } else {
      at::Tensor kv = allocateKvCache(config_.ar.cache, arDtype_, B, T, device_);
      logits = arKv(false).full(ids, outputs, leftPad, kv);
      for (int64_t k = 0; k < B; ++k) {
        const Work& w = work_[group[k]];
        w.row->arKv.narrow(4, 0, w.end).copy_(kvSlice(kv, k, 0, w.end));
      }
    }
    method = "cache_full";
  } else {
    at::Tensor window = at::arange(m, T, longOpts);
    if (B == 1) {
      at::Tensor view = work_[group[0]].row->arKv.narrow(4, 0, T);
      logits = arKv(false).step(ids, window, outputs, leftPad, view);
    } else {
      at::Tensor kv = allocateKvCache(config_.ar.cache, arDtype_, B, T, device_);
      for (int64_t k = 0; k < B; ++k) {
        const Work& w = work_[group[k]];
        const int own = w.row->arLength;
        if (own > 0) kvSlice(kv, k, pads[k], own).copy_(w.row->arKv.narrow(4, 0, own));
      }
      logits = arKv(padded).step(ids, window, outputs, leftPad, kv);
      for (int64_t k = 0; k < B; ++k) {
        const Work& w = work_[group[k]];
        const int own = w.row->arLength;
        w.row->arKv.narrow(4, own, w.end - own).copy_(kvSlice(kv, k, m, w.end - own));
      }
    }
    method = "cache_step";
  }
  checkLogits(logits, B, K, config_.ar.vocabSize, method, device_);
  const int width = config_.ar.vocabWidth;
  at::Tensor z = logits.narrow(2, 0, width).to(at::kFloat).contiguous();
  logits_.push_back(z);
  const float* base = z.data_ptr<float>();
  for (int64_t k = 0; k < B; ++k) {
    Work& w = work_[group[k]];
    const int own = full ? 0 : w.row->arLength;
    w.za = base + (k * K + (w.c - own - omin)) * (int64_t)width;
    w.row->arForwards += 1;
  }
}

void ApdRunner::step(const std::vector<ApdRowState*>& rows, const ApdStepParams& p) {
  const int V = p.vocabWidth;
  const int B = (int)rows.size();
  work_.assign(B, Work{});
  logits_.clear();
  for (int b = 0; b < B; ++b) {
    Work& w = work_[b];
    w.row = rows[b];
    w.L = (int)w.row->canvas.size();
    w.c = w.row->cursor;
    w.right = std::min(w.c + p.maxLookahead, w.L);
    w.n = w.right - w.c;
    w.end = w.right - 1;
    w.verify = w.n > 1 && p.mixtureWeight != 1.0f;
  }

  // 2. The dLLM's forwards: over each row's canvas cut at its right end, outputs [c - s, right - s).
  struct DllmGroup {
    std::vector<int> rows;
    DllmMethod method;
    int width;
  };
  std::vector<DllmGroup> groups;
  if (p.kvWindow == 0) {
    std::vector<int> all(B);
    for (int b = 0; b < B; ++b) all[b] = b;
    groups.push_back({std::move(all), DllmMethod::kLogits, 0});
  } else {
    std::vector<int> first;
    std::map<int, std::vector<int>> byWidth;  // cache_step rows by window width
    std::vector<std::pair<int, int>> fromStart;  // (width, row) of windows from position 0
    for (int b = 0; b < B; ++b) {
      const Work& w = work_[b];
      if (w.row->steps == 0) {
        first.push_back(b);
        continue;
      }
      const int left = std::max(0, w.row->prevCursor - p.kvWindow + 1);
      if (left > 0) {
        byWidth[w.right - left].push_back(b);
      } else {
        fromStart.emplace_back(w.right, b);
      }
    }
    // A window from position 0 joins the narrowest group at least as wide (its extra columns are
    // its left padding), widest first, else starts a group of its own width.
    std::sort(fromStart.begin(), fromStart.end(), [](auto& x, auto& y) { return x.first > y.first; });
    for (auto& [width, b] : fromStart) {
      auto it = byWidth.lower_bound(width);
      if (it == byWidth.end()) it = byWidth.emplace(width, std::vector<int>{}).first;
      it->second.push_back(b);
    }
    if (!first.empty()) groups.push_back({std::move(first), DllmMethod::kFull, 0});
    for (auto& [width, group] : byWidth) {
      std::sort(group.begin(), group.end());
      groups.push_back({std::move(group), DllmMethod::kStep, width});
    }
  }
  for (const DllmGroup& g : groups) {
    for (const std::vector<int>& part : cutGroup(g.rows, p.logitsBudget, config_.vocabSize, INT_MAX,
                                                 [&](const std::vector<int>& rows) { return dllmShape(rows); })) {
      dllmGroup(part, g.method, g.width, p);
    }
  }

  // 3. The drafts, with the Gumbel noise of (seed, r, d - P) when sampling: every row's positions
  // in one choice (one kernel launch on CUDA).
  const bool sampling = p.invTemperature > 0.0f;
  const float r = p.mixtureWeight, q = 1.0f - r;
  const apd::TokenRule rule{V, (int32_t)config_.maskId, r, q, sampling, p.invTemperature};
  std::vector<apd::TokenTask> tasks;
  for (Work& w : work_) {
    const ApdRowState& row = *w.row;
    w.bases.assign(w.n, 0);
    for (int i = 0; i < w.n; ++i) {
      w.bases[i] = apd::noiseBase(row.seed, (uint64_t)row.steps, (uint64_t)(w.c + i - row.promptLength));
      tasks.push_back({w.zd + (int64_t)i * V, nullptr, w.bases[i]});
    }
  }
  std::vector<int32_t> tokens = chooseApdTokens(tasks, rule, device_);
  size_t next = 0;
  for (Work& w : work_) {
    w.draft.assign(tokens.begin() + (int64_t)next, tokens.begin() + (int64_t)next + w.n);
    next += (size_t)w.n;
  }

  // 4. The causal LM over each verified row's canvas with its draft, up to its last token but one.
  std::vector<int> arFull, arStep;
  for (int b = 0; b < B; ++b) {
    if (work_[b].verify) (work_[b].row->arLength == 0 ? arFull : arStep).push_back(b);
  }
  // The AR cache_step rows by their cached length (the padding that aligns their windows), cut
  // where a forward's columns would pass the causal LM's maxLength.
  std::stable_sort(arStep.begin(), arStep.end(),
                   [&](int x, int y) { return work_[x].row->arLength > work_[y].row->arLength; });
  for (bool full : {true, false}) {
    for (const std::vector<int>& part :
         cutGroup(full ? arFull : arStep, p.logitsBudget, config_.ar.vocabSize, config_.ar.maxLength,
                  [&](const std::vector<int>& rows) { return arShape(rows, full); })) {
      arGroup(part, full);
    }
  }

  // 5. The targets of the verified rows' positions after the first, with the drafts' own noise.
  tasks.clear();
  for (Work& w : work_) {
    if (!w.verify) continue;
    for (int i = 1; i < w.n; ++i) tasks.push_back({w.zd + (int64_t)i * V, w.za + (int64_t)(i - 1) * V, w.bases[i]});
  }
  tokens = chooseApdTokens(tasks, rule, device_);
  next = 0;
  for (Work& w : work_) {
    ApdRowState& row = *w.row;
    int a = w.n;  // one position (always accepted), or R = 1 (the target is the draft)
    if (w.verify) {
      // 6. The longest agreeing prefix (the first position is the draft's own).
      w.target.assign(w.n, 0);
      w.target[0] = w.draft[0];
      std::copy(tokens.begin() + (int64_t)next, tokens.begin() + (int64_t)next + (w.n - 1), w.target.begin() + 1);
      next += (size_t)(w.n - 1);
      a = apd::acceptLength(w.draft.data(), w.target.data(), w.n);
      row.arLength = std::min(w.c + a, w.end);
    }
    for (int i = 0; i < a; ++i) row.canvas[w.c + i] = w.draft[i];
    row.lastFrom = w.c;
    row.lastCount = a;
    row.steps += 1;
    row.acceptedPerStep.push_back(a);
    row.prevCursor = w.c;
    row.cursor = w.c + a;
  }
  logits_.clear();
}

void StepBackend::runApd(const std::vector<ApdRowState*>& rows, const ApdStepParams& params) {
  if (!apd_) throw EngineError(ErrorCode::kInternal, "strategy apd without a causal LM attached: this is a bug");
  apd_->step(rows, params);
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
  requireMethods(ar, {"logits_at", "cache_full", "cache_step"},
                 "the causal LM archive (apd.arModelPath) has no method ",
                 " (docs/model-format.md \"Causal-LM archives\"): re-export it with tools/export_hf.py");
  const ProbeInputs probe = makeProbeInputs(config.maxLength, config.eosId, device);
  const int64_t n = probe.n;
  const at::Tensor &ids = probe.ids, &positions = probe.positions, &leftPad = probe.leftPad;
  auto longOpts = at::TensorOptions().dtype(at::kLong).device(device);
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
