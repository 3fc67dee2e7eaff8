// One thread per model: loading and every generation of that model run here, in order, off the
// JS thread and off libuv's small pool (a long generation must not block fs or dns work).
// The thread also owns the model's libtorch thread settings (intra-op threads, no JIT
// re-optimisation), which are per-thread in libtorch, so models never trample each other's.
#pragma once
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

namespace localleap {

class Worker {
 public:
  // `threads` (intra-op threads, 0 = libtorch's default) is capped at the machine's cores: more
  // only oversubscribe, and thousands of OpenMP threads stall the process.
  // Throws std::system_error when the OS refuses the thread.
  explicit Worker(int threads);
  ~Worker();  // runs the queued jobs, then joins
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Queues a job; jobs run one at a time in the order posted.
  void post(std::function<void()> job);

 private:
  void run();

  int threads_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::function<void()>> jobs_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace localleap
