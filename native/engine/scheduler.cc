#include "scheduler.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <list>

#include "apd_step.h"
#include "../kernels/rule_decide.h"
#include "decoder.h"
#include "kv_cache.h"

namespace localleap {
namespace {

using Clock = std::chrono::steady_clock;

double msSince(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

bool usesSchedule(Strategy s) { return s == kLowConfidence || s == kRandom; }

// Most bytes of float32 logits one forward of free rows may return ([B, K, V] x 4): free rows whose
// blocks lie far apart widen K, so they are split into several forwards past this (each row's
// result is the same in any forward: rows are independent).
// LOCALLEAP_LOGITS_BUDGET_BYTES overrides it (tests cut every row into its own forward).
int64_t logitsBudgetBytes() {
  const char* text = std::getenv("LOCALLEAP_LOGITS_BUDGET_BYTES");
  const long long value = text ? std::atoll(text) : 0;
  return value > 0 ? (int64_t)value : (int64_t(1) << 30);
}

struct CallState;

// One prompt of one call: its own canvas and decode state (docs/scheduler.md "Row").
struct Row {
  CallState* call = nullptr;
  int index = 0;                // row of its call
  std::vector<int64_t> canvas;  // [pad (lockstep calls only)] prompt, generation
  int pad = 0;                  // pad tokens at the start of `canvas`
  int genStart = 0;             // own column of generation position 0
  int block = 0;                // current block
  int blockStart = 0;           // generation position of the current block's first position
  int blockLen = 0;             // its length (an adaptive block: decided by its first step)
  bool blockDone = false;       // lockstep: finished its block, waits for the call's other rows
  bool done = false;
  RuleParams params{};          // strategy, thresholds, end ids; columns are set per plan
  uint64_t seed = 0;
  int32_t steps = 0, blockSteps = 0, blockMasks0 = 0, endFound = 0, stepsBefore = 0;
  // Strategy apd: a cursor instead of a block (apd_step.h); `canvas` is copied from it after each step.
  std::unique_ptr<ApdRowState> apd;
};

struct CallState {
  std::unique_ptr<GenerateCall> call;
  std::vector<Row> rows;
  GenerateResult result;
  Clock::time_point t0;
  int numBlocks = 0, lb = 0, maxBlockSteps = 0;
  // Adaptive blocks (docs/decoding.md "Adaptive blocks"): the rule decides each block's length at
  // its first step, which computes the window and the default length. stride: the most positions a
  // row's block spans in a plan (fixed: lb), the same at every step, so CUDA graphs take the
  // block length as data.
  bool adaptive = false;
  int window = 0, stride = 0;
  // A call with a KV cache decodes as a group of its own, its rows in step (the cache's window is
  // one set of columns): the layout and steps of today's padded batch, exactly.
  bool lockstep = false;
  // Strategy apd: the call's running rows each take a step of their own (their own cursors and
  // caches) in one iteration of the loop, their forwards batched by the runner (apd_step.cc).
  bool apd = false;
  ApdStepParams apdParams;
  at::Tensor kv;
  int groupStep = 0;  // lockstep: steps taken in the current block
  int stepIndex = 0;  // forwards this call took part in (StepEvent.step, result.batchSteps)
  bool over = false;  // resolved or rejected
};

// Positions of the row's block its next step computes: an adaptive block's first step computes
// every position its length may take (the window and the default length), later steps the block.
int stepSpan(const Row& r) {
  const CallState& c = *r.call;
  if (c.adaptive && r.blockSteps == 0) {
    return std::min(c.stride, c.call->request.genLength - r.blockStart);
  }
  return r.blockLen;
}

// Most steps the row's current block can take.
int blockStepLimit(const Row& r) {
  const CallState& c = *r.call;
  if (!c.adaptive) return c.maxBlockSteps;
  const GenerateRequest& q = c.call->request;
  return usesSchedule(q.strategy) ? rule::adaptiveStepsPerBlock(r.blockLen, q.steps, q.genLength) : r.blockLen;
}

void rejectCall(CallState& c, const EngineError& error) {
  if (c.over) return;
  c.over = true;
  c.kv = at::Tensor();
  c.call->reject(error);
}

void resolveCall(CallState& c, const ModelConfig& config) {
  if (c.over) return;
  const int G = c.call->request.genLength;
  for (Row& r : c.rows) {
    for (int i = 0; i < G; ++i) {
      const int64_t id = r.canvas[r.genStart + i];
      // Never narrow a token id silently: only the rule writes the canvas, and only ids < vocabSize.
      if (id < 0 || id >= config.vocabSize) {
        rejectCall(c, EngineError(ErrorCode::kInternal, "the decoded canvas holds token id " + std::to_string(id) +
                                                            " outside [0, " + std::to_string(config.vocabSize) +
                                                            "): this is a bug"));
        return;
      }
    }
    c.result.rows[r.index].tokens.assign(r.canvas.begin() + r.genStart, r.canvas.begin() + r.genStart + G);
    if (r.apd) {
      RowResult& out = c.result.rows[r.index];
      out.apd = true;
      out.dllmForwards = r.apd->steps;
      out.arForwards = r.apd->arForwards;
      out.acceptedPerStep = r.apd->acceptedPerStep;
      // One block, the generation span, once a step ran (as a block strategy's decoded blocks).
      out.blockLengths.assign(r.apd->steps > 0 ? 1 : 0, G);
    }
  }
  c.result.batchSteps = c.stepIndex;
  c.result.totalMs = msSince(c.t0);
  c.over = true;
  c.kv = at::Tensor();
  c.call->resolve(std::move(c.result));
}

// The call's rows, built at admission; throws EngineError (the call alone is rejected).
void admit(CallState& c, StepBackend& backend, const ModelConfig& config) {
  const GenerateRequest& q = c.call->request;
  validateRequest(q, config);
  c.apd = q.strategy == kApd;
  if (c.apd) {
    validateApdRequest(q, config);
    c.apdParams.mixtureWeight = q.mixtureWeight;
    c.apdParams.kvWindow = q.kvWindow;
    c.apdParams.maxLookahead = q.maxLookahead;
    c.apdParams.invTemperature = q.temperature > 0.0f ? 1.0f / q.temperature : 0.0f;
    c.apdParams.vocabWidth = config.ar.vocabWidth;
    c.apdParams.logitsBudget = logitsBudgetBytes();
  }
  c.lb = q.blockLength;
  c.adaptive = q.adaptiveBlock;
  c.window = q.adaptiveWindow;
  c.stride = c.adaptive ? std::min(std::max(c.lb, c.window), q.genLength) : c.lb;
  c.numBlocks = q.genLength / q.blockLength;
  c.maxBlockSteps = c.adaptive ? 0 : usesSchedule(q.strategy) ? q.steps / c.numBlocks : q.blockLength;
  c.lockstep = q.cache != CacheMode::kNone;
  int longest = 0;
  for (const auto& p : q.prompts) longest = std::max(longest, (int)p.size());
  const int batch = (int)q.prompts.size();
  c.result.rows.resize(batch);
  c.rows.resize(batch);
  for (int b = 0; b < batch; ++b) {
    const auto& prompt = q.prompts[b];
    Row& r = c.rows[b];
    r.call = &c;
    r.index = b;
    // A lockstep call keeps today's batch layout (prompts left-padded to the longest); a free row
    // has no padding of its own: the plan right-aligns it.
    r.pad = c.lockstep ? longest - (int)prompt.size() : 0;
    r.genStart = r.pad + (int)prompt.size();
    r.canvas.assign(r.genStart + q.genLength, (int64_t)config.maskId);
    std::fill(r.canvas.begin(), r.canvas.begin() + r.pad, (int64_t)config.padId);
    std::copy(prompt.begin(), prompt.end(), r.canvas.begin() + r.pad);
    r.params = ruleParamsFor(q, config, (int)r.canvas.size(), r.genStart);
    r.params.blockLength = q.blockLength;
    r.blockStart = 0;
    r.blockLen = std::min(q.blockLength, q.genLength);
    r.seed = q.seeds[b];
    // Fixed blocks: one entry per block (0 for blocks skipped by stopAtEos); adaptive: one per block decoded.
    if (!c.adaptive) c.result.rows[b].stepsPerBlock.assign(c.numBlocks, 0);
    if (c.apd) {
      r.apd = std::make_unique<ApdRowState>();
      r.apd->canvas = r.canvas;
      r.apd->promptLength = (int)prompt.size();
      r.apd->cursor = r.apd->prevCursor = (int)prompt.size();
      r.apd->seed = r.seed;
    }
  }
  if (c.lockstep) c.kv = backend.allocateCache(batch, longest + q.genLength);
}

// Builds the plan of one forward over `rows` (docs/scheduler.md "StepPlan"): every row
// right-aligned in a canvas of the longest row's width, so only left padding is ever needed.
StepPlan buildPlan(const std::vector<Row*>& rows, StepKind kind, CacheMode cache, const ModelConfig& config,
                   std::vector<int>& offsets) {
  StepPlan plan;
  plan.kind = kind;
  plan.cache = cache;
  plan.batch = (int)rows.size();
  int W = 0, stride = 0;
  for (const Row* r : rows) {
    W = std::max(W, (int)r->canvas.size());
    stride = std::max(stride, r->call->stride);
  }
  plan.width = W;
  plan.blockStride = stride;
  plan.canvas = at::full({plan.batch, W}, (int64_t)config.padId, at::kLong);
  plan.leftPad = at::zeros({plan.batch}, at::kLong);
  int64_t* canvas = plan.canvas.data_ptr<int64_t>();
  int64_t* leftPad = plan.leftPad.data_ptr<int64_t>();
  offsets.assign(plan.batch, 0);
  int lo = W, hi = 0;
  std::vector<int> blockCol(plan.batch), span(plan.batch);
  for (int b = 0; b < plan.batch; ++b) {
    const Row& r = *rows[b];
    const int o = W - (int)r.canvas.size();
    offsets[b] = o;
    std::copy(r.canvas.begin(), r.canvas.end(), canvas + (int64_t)b * W + o);
    leftPad[b] = o + r.pad;
    plan.padded = plan.padded || leftPad[b] > 0;
    blockCol[b] = o + r.genStart + r.blockStart;
    span[b] = stepSpan(r);
    lo = std::min(lo, blockCol[b]);
    hi = std::max(hi, blockCol[b] + span[b]);
  }
  plan.logitsBegin = lo;
  plan.logitsCount = hi - lo;
  for (int b = 0; b < plan.batch; ++b) {
    const Row& r = *rows[b];
    RuleParams p = r.params;
    p.canvasLength = W;
    p.genStart = offsets[b] + r.genStart;
    p.blockStart = blockCol[b];
    p.blockLength = span[b];
    if (r.call->adaptive) {
      const GenerateRequest& q = r.call->call->request;
      const int left = q.genLength - r.blockStart;
      p.adaptiveWindow = r.blockSteps == 0 ? std::min(r.call->window, left) : 0;
      p.fallbackLength = std::min(r.call->lb, left);
      if (usesSchedule(q.strategy)) p.stepsPerBlock = rule::adaptiveStepsPerBlock(r.blockLen, q.steps, q.genLength);
    }
    p.logitsOffset = kind == StepKind::kCached ? 0 : blockCol[b] - lo;
    plan.params.push_back(p);
    plan.seeds.push_back(r.seed);
    plan.steps.push_back(r.steps);
    plan.blockSteps.push_back(r.blockSteps);
    plan.blockMasks0.push_back(r.blockMasks0);
    plan.endFound.push_back(r.endFound);
  }
  if (kind == StepKind::kCached) {
    // Only lockstep groups take cached steps: every row's block is at the same columns.
    plan.window = cachedWindow(cache, lo, plan.logitsCount, W, config.logitsShifted, at::TensorOptions());
  }
  return plan;
}

// The row's current block ends (finished, or cut by an end of text): its steps and length go into
// the result, and the next block's steps count from here.
void recordBlock(Row& r) {
  RowResult& out = r.call->result.rows[r.index];
  if ((int)out.stepsPerBlock.size() <= r.block) out.stepsPerBlock.resize(r.block + 1, 0);
  out.stepsPerBlock[r.block] = r.steps - r.stepsBefore;
  out.blockLengths.push_back(r.blockLen);
  r.stepsBefore = r.steps;
  out.steps = r.steps;
  r.blockSteps = 0;
}

// The row finished its current block: count its steps, stop at an end token, or move on.
void finishBlock(Row& r, const ModelConfig& config) {
  CallState& c = *r.call;
  recordBlock(r);
  r.blockDone = false;
  const int G = c.call->request.genLength;
  const int nextStart = r.blockStart + r.blockLen;
  const int next = r.genStart + nextStart;
  if (c.call->request.stopAtEos && r.endFound) {
    std::fill(r.canvas.begin() + std::min<size_t>(next, r.canvas.size()), r.canvas.end(), (int64_t)config.eosId);
    r.done = true;
    return;
  }
  if (nextStart >= G) {
    r.done = true;
    return;
  }
  r.block += 1;
  r.blockStart = nextStart;
  r.blockLen = std::min(c.lb, G - nextStart);  // an adaptive block's first step decides it
}

// End-of-text prediction (docs/decoding.md "Ending early"): the column of the first end token of
// the row's block when every position before it is decoded, else -1. Earlier blocks are decoded
// and hold no end token (the row would have stopped), so the block is all that needs reading.
int endOfTextColumn(const Row& r, const ModelConfig& config) {
  const int lo = r.genStart + r.blockStart, hi = lo + r.blockLen;
  for (int col = lo; col < hi; ++col) {
    const int64_t token = r.canvas[col];
    if (token == config.maskId) return -1;
    if (rule::isEndToken(r.params, token)) return col;
  }
  return -1;
}

// The row's text ended at `column`: everything after it becomes EOS and the row is done, mid-block.
void stopAtEndOfText(Row& r, int column, const ModelConfig& config) {
  std::fill(r.canvas.begin() + column + 1, r.canvas.end(), (int64_t)config.eosId);
  recordBlock(r);
  r.done = true;
}

// Ends the call before its next step (the JS side's finish flag): the canvas as it is.
void finishEarly(CallState& c, const ModelConfig& config) {
  for (Row& r : c.rows) {
    if (r.done) continue;
    RowResult& out = c.result.rows[r.index];
    if ((int)out.stepsPerBlock.size() <= r.block) out.stepsPerBlock.resize(r.block + 1, 0);
    out.stepsPerBlock[r.block] = r.steps - r.stepsBefore;
    if (r.steps > r.stepsBefore) out.blockLengths.push_back(r.blockLen);
    out.steps = r.steps;
  }
  resolveCall(c, config);
}

// One step of an APD call (docs/decoding.md "APD"): each of its running rows takes one step of its
// own (its cursor, lookahead and caches; the runner batches their forwards, "Batched rows"), then
// the call's step event; a row stops at c = L, or at the step that commits an end token with
// stopAtEos or endOfText (every earlier position is committed by construction). A failed forward
// rejects the call.
void stepApd(CallState& c, const std::vector<Row*>& rows, StepBackend& backend, const ModelConfig& config) {
  const GenerateRequest& q = c.call->request;
  const auto s0 = Clock::now();
  try {
    StepEvent event;
    event.step = c.stepIndex;
    event.block = 0;
    event.rows.resize(c.rows.size());
    std::vector<ApdRowState*> states;
    for (Row* r : rows) states.push_back(r->apd.get());
    backend.runApd(states, c.apdParams);
    for (Row* r : rows) {
      ApdRowState& a = *r->apd;
      r->canvas = a.canvas;
      r->steps = a.steps;
      StepEvent::Row& er = event.rows[r->index];
      bool ended = false;
      for (int i = 0; i < a.lastCount; ++i) {
        const int64_t token = a.canvas[a.lastFrom + i];
        er.positions.push_back(a.lastFrom + i - r->genStart);
        er.tokens.push_back((int32_t)token);
        ended = ended || rule::isEndToken(r->params, token);
      }
      RowResult& out = c.result.rows[r->index];
      out.steps = a.steps;
      out.stepsPerBlock[0] = a.steps;
      if ((q.stopAtEos || q.endOfText) && ended) {
        std::fill(r->canvas.begin() + a.cursor, r->canvas.end(), (int64_t)config.eosId);
        r->done = true;
      } else if (a.cursor >= (int)a.canvas.size()) {
        r->done = true;
      }
      if (r->done) a.dllmKv = a.arKv = at::Tensor();
    }
    const double ms = msSince(s0);
    c.stepIndex += 1;
    c.result.stepMs += ms;
    c.result.fullSteps += 1;
    c.result.fullStepMs += ms;
    c.result.rowsInForwards += (int64_t)rows.size();
    if (c.call->observer) c.call->observer(std::move(event));
  } catch (...) {
    rejectCall(c, currentErrorAsEngineError("generating"));
  }
}

}  // namespace

bool Scheduler::submit(std::unique_ptr<GenerateCall> call) {
  std::lock_guard<std::mutex> lock(mutex_);
  queue_.push_back(std::move(call));
  if (busy_) return false;
  busy_ = true;
  return true;
}

std::unique_ptr<GenerateCall> Scheduler::pop(bool force, int activeRows) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (queue_.empty()) return nullptr;
  const int rows = (int)queue_.front()->request.prompts.size();
  // FIFO: the head joins when its rows fit, or alone when nothing runs; nothing overtakes it.
  if (!force && activeRows + rows > maxBatchSize_) return nullptr;
  auto call = std::move(queue_.front());
  queue_.pop_front();
  return call;
}

void Scheduler::drain(StepBackend& backend, const ModelConfig& config) {
  std::list<CallState> calls;
  for (;;) {
    try {
      // 1. Admission (FIFO, at most maxBatchSize rows running).
      int activeRows = 0;
      for (const CallState& c : calls) activeRows += (int)c.rows.size();
      while (auto call = pop(activeRows == 0, activeRows)) {
        calls.emplace_back();
        CallState& c = calls.back();
        c.call = std::move(call);
        c.t0 = Clock::now();
        try {
          admit(c, backend, config);
          activeRows += (int)c.rows.size();
        } catch (...) {
          rejectCall(c, currentErrorAsEngineError("generating"));
          calls.pop_back();
        }
      }
      if (calls.empty()) {
        std::lock_guard<std::mutex> lock(mutex_);
        if (queue_.empty()) {
          busy_ = false;
          return;
        }
        continue;
      }

      // 2. Aborts and early finishes, before the step (as before every step of a lone decode).
      for (CallState& c : calls) {
        if (c.call->abort && c.call->abort->load()) {
          rejectCall(c, EngineError(ErrorCode::kAborted, "generation was aborted"));
        } else if (c.call->finish && c.call->finish->load()) {
          finishEarly(c, config);
        }
      }
      calls.remove_if([](const CallState& c) { return c.over; });
      if (calls.empty()) continue;

      // 3. The plans of this iteration: every free row (cache "none") in one forward; each
      //    lockstep call (a KV cache) in a forward of its own.
      struct Group {
        std::vector<Row*> rows;
        StepKind kind;
        CacheMode cache;
        CallState* lockstep;
        CallState* apd = nullptr;
      };
      std::vector<Group> groups;
      Group shared{{}, StepKind::kFull, CacheMode::kNone, nullptr};
      for (CallState& c : calls) {
        if (c.apd) {
          Group g{{}, StepKind::kFull, CacheMode::kNone, nullptr, &c};
          for (Row& r : c.rows) {
            if (!r.done) g.rows.push_back(&r);
          }
          groups.push_back(std::move(g));
        } else if (c.lockstep) {
          Group g{{}, c.groupStep == 0 ? StepKind::kFull : StepKind::kCached, c.call->request.cache, &c};
          for (Row& r : c.rows) g.rows.push_back(&r);
          groups.push_back(std::move(g));
        } else {
          for (Row& r : c.rows) {
            if (!r.done) shared.rows.push_back(&r);
          }
        }
      }
      if (!shared.rows.empty()) {
        // Rows sorted by their block's column from the canvas end (their column in a plan, up to the
        // plan's width), cut into forwards whose logits stay within the budget.
        auto fromEnd = [](const Row* r) { return (int)r->canvas.size() - (r->genStart + r->blockStart); };
        std::stable_sort(shared.rows.begin(), shared.rows.end(),
                         [&](const Row* a, const Row* b) { return fromEnd(a) > fromEnd(b); });
        std::vector<Group> cut;
        Group current{{}, StepKind::kFull, CacheMode::kNone, nullptr};
        const int64_t budget = logitsBudgetBytes();
      int hi = 0, lo = 0;  // distance from the end of the farthest block start, nearest block end
        for (Row* r : shared.rows) {
          const int start = fromEnd(r), end = start - stepSpan(*r);
          const int newHi = current.rows.empty() ? start : std::max(hi, start);
          const int newLo = current.rows.empty() ? end : std::min(lo, end);
          const int64_t bytes = (int64_t)(current.rows.size() + 1) * (newHi - newLo) * config.vocabSize * 4;
          if (!current.rows.empty() && bytes > budget) {
            cut.push_back(std::move(current));
            current = Group{{}, StepKind::kFull, CacheMode::kNone, nullptr};
            hi = start;
            lo = end;
          } else {
            hi = newHi;
            lo = newLo;
          }
          current.rows.push_back(r);
        }
        cut.push_back(std::move(current));
        groups.insert(groups.begin(), std::make_move_iterator(cut.begin()), std::make_move_iterator(cut.end()));
      }

      for (Group& g : groups) {
        // A call rejected by an earlier forward of this iteration (its rows may be cut over
        // several) is gone: its promise is settled and its observer must not run again.
        g.rows.erase(std::remove_if(g.rows.begin(), g.rows.end(), [](const Row* r) { return r->call->over; }),
                     g.rows.end());
        if (g.rows.empty()) continue;
        if (g.apd) {
          stepApd(*g.apd, g.rows, backend, config);
          continue;
        }
        std::vector<int> offsets;
        std::vector<CallState*> members;
        for (Row* r : g.rows) {
          if (members.empty() || members.back() != r->call) {
            if (std::find(members.begin(), members.end(), r->call) == members.end()) members.push_back(r->call);
          }
        }
        const auto s0 = Clock::now();
        try {
          StepPlan plan = buildPlan(g.rows, g.kind, g.cache, config, offsets);
          plan.kv = g.lockstep ? &g.lockstep->kv : nullptr;
          plan.cudaGraph = std::all_of(members.begin(), members.end(),
                                       [](const CallState* c) { return c->call->request.cudaGraph; });
          backend.run(plan);
          const double ms = msSince(s0);
          // Scatter the plan back into the rows.
          const int64_t* canvas = plan.canvas.data_ptr<int64_t>();
          std::vector<StepEvent> events(members.size());
          for (size_t m = 0; m < members.size(); ++m) {
            CallState& c = *members[m];
            events[m].step = c.stepIndex;
            events[m].block = -1;
            events[m].rows.resize(c.rows.size());
            c.stepIndex += 1;
            c.result.stepMs += ms;
            c.result.rowsInForwards += plan.batch;
            // The call ran as graphs when one of its steps did; the reason of the last fallback.
            c.result.cudaGraph = c.result.cudaGraph || plan.usedCudaGraph;
            if (!plan.cudaGraphFallbackReason.empty()) c.result.cudaGraphFallbackReason = plan.cudaGraphFallbackReason;
            if (g.kind == StepKind::kFull) {
              ++c.result.fullSteps;
              c.result.fullStepMs += ms;
            } else {
              ++c.result.cachedSteps;
              c.result.cachedStepMs += ms;
            }
          }
          for (int b = 0; b < plan.batch; ++b) {
            Row& r = *g.rows[b];
            CallState& c = *r.call;
            const size_t m = std::find(members.begin(), members.end(), &c) - members.begin();
            std::copy(canvas + (int64_t)b * plan.width + offsets[b], canvas + (int64_t)(b + 1) * plan.width,
                      r.canvas.begin());
            r.steps = plan.steps[b];
            r.blockSteps = plan.blockSteps[b];
            r.blockMasks0 = plan.blockMasks0[b];
            r.endFound = plan.endFound[b];
            // The rule's block length: an adaptive block's first step decided it.
            if (!r.done) r.blockLen = plan.blockLengthOut[b];
            StepEvent::Row& er = events[m].rows[r.index];
            er.block = r.block;
            if (events[m].block < 0) events[m].block = r.block;
            for (int i = 0; i < plan.params[b].blockLength; ++i) {
              const int32_t token = plan.committed[(size_t)b * plan.blockStride + i];
              if (token < 0) continue;
              er.positions.push_back(r.blockStart + i);
              er.tokens.push_back(token);
            }
            if (r.done) continue;
            if (c.call->request.endOfText) {
              const int column = endOfTextColumn(r, config);
              if (column >= 0) {
                stopAtEndOfText(r, column, config);
                continue;
              }
            }
            if (plan.remaining[b] == 0) {
              if (c.lockstep) {
                r.blockDone = true;
              } else {
                finishBlock(r, config);
              }
            } else if (r.blockSteps >= blockStepLimit(r)) {
              throw EngineError(ErrorCode::kInternal, "block " + std::to_string(r.block) + " of row " +
                                                          std::to_string(r.index) +
                                                          " still has masks after its steps: this is a bug");
            }
          }
          for (size_t m = 0; m < members.size(); ++m) {
            if (members[m]->call->observer) members[m]->call->observer(std::move(events[m]));
          }
          if (g.lockstep) {
            CallState& c = *g.lockstep;
            const bool all =
                std::all_of(c.rows.begin(), c.rows.end(), [](const Row& r) { return r.done || r.blockDone; });
            if (all) {
              c.groupStep = 0;
              int block = -1;
              for (Row& r : c.rows) {
                if (!r.done) finishBlock(r, config);
                block = std::max(block, r.block);
              }
              // Rows stopped at an end token ride along at the call's block (no masks: no steps).
              for (Row& r : c.rows) {
                if (r.done) {
                  r.block = block;
                  r.blockSteps = 0;
                  if (!c.adaptive) r.blockStart = block * c.lb;  // adaptive cached calls have one row
                }
              }
            } else {
              c.groupStep += 1;
            }
          }
        } catch (...) {
          // A failed forward fails every call that had rows in it; the others go on.
          const EngineError error = currentErrorAsEngineError("generating");
          for (CallState* c : members) rejectCall(*c, error);
        }
      }

      // 4. Finished calls resolve at once.
      for (CallState& c : calls) {
        if (c.over) continue;
        if (std::all_of(c.rows.begin(), c.rows.end(), [](const Row& r) { return r.done; })) {
          resolveCall(c, config);
        }
      }
      calls.remove_if([](const CallState& c) { return c.over; });
    } catch (...) {
      // Nothing above should throw (a failed forward is handled where it runs); if something does,
      // every running call settles rather than waiting forever, and the scheduler goes on.
      const EngineError error = currentErrorAsEngineError("scheduling");
      for (CallState& c : calls) rejectCall(c, error);
      calls.clear();
    }
  }
}

}  // namespace localleap
