// A back end runs one decoding step (forward on the current block + the commit rule) on its
// device. The block loop (decoder.h) is written once against this interface.
#pragma once
#include <torch/script.h>

#include <string>
#include <vector>

#include "../kernels/rule_types.h"
#include "generation.h"

namespace localleap {

struct DecodeShape {
  int batch = 0;
  int canvasLength = 0;  // padded prompt + generation
  int genStart = 0;      // padded prompt length
  int blockLength = 0;
  bool padded = false;   // some row is left-padded: use logits_at_padded
  CacheMode cache = CacheMode::kNone;
};

// What one step's forward runs: the whole canvas (a block's first step, or every step without a
// cache; with a cache it also stores every position's keys/values), or the cached window.
enum class StepKind { kFull, kCached };

// Host-readable status of the last step (StepState's status arrays).
struct StepStatus {
  const int32_t* remaining = nullptr;  // [B]
  const int32_t* steps = nullptr;      // [B]
  const int32_t* endFound = nullptr;   // [B]
  const int32_t* committed = nullptr;  // [B * Lb]
};

class StepBackend {
 public:
  virtual ~StepBackend() = default;
  // canvas: CPU int64 [B, L]; leftPad: CPU int64 [B].
  virtual void start(const DecodeShape& shape, const at::Tensor& canvas, const at::Tensor& leftPad,
                     const RuleParams& params, const std::vector<uint64_t>& seeds, bool cudaGraph) = 0;
  virtual void startBlock(int blockStart) = 0;
  // Queues one step; may return before it ran. kCached only when shape.cache != kNone.
  virtual void step(StepKind kind) = 0;
  // Waits for the queued step and returns its status.
  virtual StepStatus wait() = 0;
  // Sets canvas[row, from:] = token (early stop at an end token).
  virtual void fillFrom(int row, int from, int64_t token) = 0;
  // The canvas on the host, once decoding is over.
  virtual at::Tensor finish() = 0;
  virtual bool usedCudaGraph() const { return false; }
  virtual std::string cudaGraphFallbackReason() const { return ""; }
};

}  // namespace localleap
