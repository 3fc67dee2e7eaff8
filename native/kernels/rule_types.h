// Plain data shared by the CPU rule engine and the CUDA kernel (no torch, no CUDA headers).
#pragma once
#include <stdint.h>

namespace localleap {

enum Strategy : int32_t {
  kLowConfidence = 0,
  kRandom = 1,
  kThreshold = 2,
  kLocalLeap = 3,
  kLearned = 4,  // Learn2PD's learned filter (learned_filter.h): top-1 plus every position it accepts
  // APD (docs/decoding.md "APD"): never reaches the commit rule; the scheduler runs its rows
  // through StepBackend::runApd (native/engine/apd_step.h).
  kApd = 5,
};

constexpr int kMaxEndIds = 8;
constexpr int kMaxDelimiterIds = 8;  // AdaBlock's delimiter tokens (localleap.json delimiterIds)

// Everything the rule reads about one row. One RuleParams per row of a step (the scheduler's
// rows keep their own strategy, thresholds and block): params[b] describes row b. On CUDA the
// array lives in device memory so that a captured graph picks up new values without re-capture.
struct RuleParams {
  int32_t strategy;
  int32_t maskId;
  int32_t canvasLength;    // row stride of the step's canvas (W); the same for every row of a step
  int32_t genStart;        // canvas column of this row's generation position 0
  int32_t blockStart;      // canvas column of this row's current block's first position
  int32_t blockLength;     // this row's block length (<= the step's block stride)
  int32_t logitsOffset;    // index, among the row's logits of this step, of its block's first position
  int32_t stepsPerBlock;   // s, for low-confidence and random
  int32_t topKOverride;    // > 0: commit this many by rank (test hook); 0: the schedule
  int32_t radius;          // W
  float threshold;         // theta
  float anchorThreshold;   // kappa
  float relaxedThreshold;  // tau
  float temperature;       // 0: greedy
  float invTemperature;    // 1 / temperature, computed once on the host
  int32_t numEndIds;
  int32_t endIds[kMaxEndIds];
  // AdaBlock's adaptive block length (docs/decoding.md "Adaptive blocks"). adaptiveWindow > 0: at
  // the block's first step (blockSteps == 0) blockLength is the span the step computes (>= the
  // window and the fallback), and the rule decides the block's length (reported in
  // StepState::blockLengthOut); later steps of the block have blockLength = that length.
  int32_t adaptiveWindow;      // searched offsets [0, adaptiveWindow) from the block start; 0: fixed blocks
  int32_t fallbackLength;      // the length when no delimiter is confident enough: min(Lb, G - start)
  int32_t scheduleSteps;       // the steps option (low-confidence, random): s = max(1, len * steps / G) <= len
  int32_t genLength;           // G
  float delimiterThreshold;
  int32_t numDelimiterIds;
  int32_t delimiterIds[kMaxDelimiterIds];
  // Strategy learned: accept a masked position when the filter's logit is > this (float32 of
  // log(t / (1 - t)) computed in double on the host; +inf for t = 1, -inf for t = 0).
  float logitThreshold;
};

// Learn2PD's filter (docs/decoding.md "Learned filter"), one per model: an MLP of `inputs`
// (the block length it was trained for) -> `hidden` (ReLU) -> `inputs` logits. Row-major float32
// weights: w1 [hidden][inputs], b1 [hidden], w2 [inputs][hidden], b2 [inputs]. inputs = 0: the
// model has no filter. Host or device memory, like StepState's other pointers.
struct LearnedFilterView {
  const float* w1;
  const float* b1;
  const float* w2;
  const float* b2;
  int32_t inputs;
  int32_t hidden;
};

constexpr int kMaxFilterHidden = 256;

// Per-row decode state and the step's outputs. Pointers may be host, device or host-mapped
// memory; the layout is the same for both back ends. [B*Lb] arrays have a row stride of the
// step's block stride (the largest blockLength among its rows); a row uses its first
// params[b].blockLength cells.
struct StepState {
  const uint64_t* seeds;   // [B]
  int32_t* steps;          // [B] forward passes the row has taken (its RNG step counter)
  int32_t* blockSteps;     // [B] steps taken in the current block; zeroed at block start
  int32_t* blockMasks0;    // [B] masked positions at the block's first step
  float* conf;             // [B*Lb] scratch: confidence per block offset
  int32_t* token;          // [B*Lb] scratch: chosen token per block offset
  uint32_t* arrivals;      // [B] CUDA only: CTAs done with the row in this launch
  // Status the host reads after each step:
  int32_t* remaining;      // [B] masks left in the current block
  int32_t* stepsOut;       // [B] copy of steps
  int32_t* endFound;       // [B] 1 once a finished block of the row holds an end token
  int32_t* committed;      // [B*Lb] token committed at each offset by the last step, -1 if none
  int32_t* blockLengthOut; // [B] the row's block length in this step (decided at an adaptive first step)
  LearnedFilterView filter;  // the model's learned filter (strategy learned); inputs 0 when none
};

}  // namespace localleap
