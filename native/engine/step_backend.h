// A back end runs one StepPlan (one forward over some rows + the commit rule) on its device.
// The scheduler (scheduler.h) is the only decode loop; it builds one plan per forward.
#pragma once
#include <torch/script.h>

#include <memory>
#include <string>
#include <vector>

#include "../kernels/rule_types.h"
#include "apd_step.h"
#include "generation.h"

namespace localleap {

// What one step's forward runs: the whole canvas (a block's first step, or every step without a
// cache; with a cache it also stores every position's keys/values), or the cached window.
enum class StepKind { kFull, kCached };

// One forward and one commit decision over `batch` rows (docs/scheduler.md "StepPlan").
// The scheduler owns every array; the back end reads the inputs and writes the outputs, and the
// rule updates `canvas` and the per-row counters in place.
struct StepPlan {
  StepKind kind = StepKind::kFull;
  CacheMode cache = CacheMode::kNone;
  int batch = 0;
  int width = 0;         // W: canvas columns (every row right-aligned: its canvas ends at column W)
  int blockStride = 0;   // largest blockLength among the rows: row stride of the [B*Lb] arrays
  bool padded = false;   // some row has leftPad > 0: use logits_at_padded / the padded cache methods
  bool cudaGraph = false;

  at::Tensor canvas;   // host int64 [B, W], contiguous; updated in place by the rule
  at::Tensor leftPad;  // host int64 [B]

  // kFull: logits of canvas columns [logitsBegin, logitsBegin + logitsCount) (before the shift a
  // shifted model applies: the back end asks for the outputs one column earlier).
  int logitsBegin = 0;
  int logitsCount = 0;
  // kCached: the canvas columns the step runs (host int64); logits are those of the window's first
  // logitsCount entries (the block). `kv` is the group's cache tensor.
  at::Tensor window;
  at::Tensor* kv = nullptr;

  // Per row (params[b].blockStart etc. in this plan's columns; logitsOffset into the logits above).
  std::vector<RuleParams> params;
  std::vector<uint64_t> seeds;
  // In/out per-row counters (StepState): steps, blockSteps, blockMasks0, endFound.
  std::vector<int32_t> steps, blockSteps, blockMasks0, endFound;
  // Outputs: remaining masks per row, committed token per [b * blockStride + i] (-1: none).
  std::vector<int32_t> remaining, committed;
  // Output: each row's block length in this step (an adaptive block's first step decides it).
  std::vector<int32_t> blockLengthOut;
  // Set by the back end: the step ran as a replayed CUDA graph; why a requested graph was not used.
  bool usedCudaGraph = false;
  std::string cudaGraphFallbackReason;
};

class StepBackend {
 public:
  virtual ~StepBackend() = default;
  // Runs the plan's forward and the rule; on return the outputs and the canvas are on the host.
  virtual void run(StepPlan& plan) = 0;
  // A zero-filled KV cache for `batch` rows of `length` columns on the back end's device.
  virtual at::Tensor allocateCache(int batch, int length) = 0;

  // APD (docs/decoding.md "APD"): one step of each of a call's running rows through the runner the
  // engine attached (their forwards batched, on the back end's device). INTERNAL when no causal LM
  // is attached.
  virtual void runApd(const std::vector<ApdRowState*>& rows, const ApdStepParams& params);
  void attachApd(std::unique_ptr<ApdRunner> runner) { apd_ = std::move(runner); }

 protected:
  std::unique_ptr<ApdRunner> apd_;
};

}  // namespace localleap
