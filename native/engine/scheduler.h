// Step-level continuous batching (docs/scheduler.md): the one decode loop of the engine.
// Every generate() call becomes rows of the model's running batch; each iteration builds a
// StepPlan per group of rows and runs it; a row that finishes its block moves on to its next one,
// a finished call resolves at once, queued calls join at the next iteration.
#pragma once
#include <atomic>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>

#include "errors.h"
#include "generation.h"
#include "step_backend.h"

namespace localleap {

// One generate() call as the scheduler receives it. `resolve` / `reject` run on the worker thread
// (they post to the JS thread themselves); exactly one of them is called, once.
struct GenerateCall {
  GenerateRequest request;
  StepObserver observer;                      // may be empty
  std::shared_ptr<std::atomic<bool>> abort;   // may be null: ABORTED at the next step
  std::shared_ptr<std::atomic<bool>> finish;  // may be null: resolve with the canvas as it is
  std::function<void(GenerateResult&&)> resolve;
  std::function<void(const EngineError&)> reject;
};

class Scheduler {
 public:
  // maxBatchSize: rows decoded at once (a call with more rows still runs, alone).
  explicit Scheduler(int maxBatchSize) : maxBatchSize_(maxBatchSize > 0 ? maxBatchSize : 1) {}

  // Any thread. Queues the call (FIFO). Returns true when the scheduler was idle: the caller must
  // then run drain() on the model's worker thread (post a job); otherwise a running drain() picks
  // the call up at its next iteration.
  bool submit(std::unique_ptr<GenerateCall> call);

  // Worker thread: runs steps until no call is queued or running, then marks the scheduler idle.
  void drain(StepBackend& backend, const ModelConfig& config);

  int maxBatchSize() const { return maxBatchSize_; }

 private:
  std::unique_ptr<GenerateCall> pop(bool force, int activeRows);
  int maxBatchSize_;
  std::mutex mutex_;
  std::deque<std::unique_ptr<GenerateCall>> queue_;
  bool busy_ = false;
};

}  // namespace localleap
