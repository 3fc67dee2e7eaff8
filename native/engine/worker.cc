#include "worker.h"

#include <ATen/Parallel.h>
#include <c10/core/InferenceMode.h>
#include <torch/csrc/jit/runtime/graph_executor.h>

namespace localleap {

namespace {

int cappedThreads(int threads) {
  const int cores = (int)std::thread::hardware_concurrency();
  return cores > 0 && threads > cores ? cores : threads;
}

}  // namespace

Worker::Worker(int threads) : threads_(cappedThreads(threads)), thread_([this] { run(); }) {}

Worker::~Worker() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_one();
  if (thread_.joinable()) thread_.join();
}

void Worker::post(std::function<void()> job) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    jobs_.push_back(std::move(job));
  }
  wake_.notify_one();
}

void Worker::run() {
  // Run scripted methods as written: no profiling runs or fusion passes, so the first calls are
  // not slow, CUDA graph capture sees plain kernels, and results match eager PyTorch.
  torch::jit::setGraphExecutorOptimize(false);
  for (;;) {
    std::function<void()> job;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
      if (jobs_.empty()) return;  // stopping, queue drained
      job = std::move(jobs_.front());
      jobs_.pop_front();
    }
    // Per job: libtorch's OpenMP thread count is per calling thread, but its init hooks can reset
    // it from a process-wide value another model set.
    if (threads_ > 0) at::set_num_threads(threads_);
    c10::InferenceMode inference;
    job();  // jobs catch their own exceptions
  }
}

}  // namespace localleap
