// Runs callbacks on the JS thread from any thread (a thread-safe function with no JS callee).
// Each asynchronous operation opens one channel, posts its progress and its completion, and
// closes it; an open channel keeps the event loop alive, as a pending operation should.
#pragma once
#include <napi.h>

#include <atomic>
#include <functional>
#include <memory>

namespace localleap {

class JsChannel {
 public:
  using Task = std::function<void(Napi::Env)>;

  // On the JS thread.
  static std::shared_ptr<JsChannel> open(Napi::Env env, const char* name);
  ~JsChannel();

  // From any thread; tasks run in order on the JS thread. Dropped once closed.
  void post(Task task);
  // From any thread; the last call. Pending tasks still run.
  void close();

 private:
  static void callJs(Napi::Env env, Napi::Function, void*, Task* task);
  using Tsfn = Napi::TypedThreadSafeFunction<void, Task, &JsChannel::callJs>;
  explicit JsChannel(Tsfn tsfn) : tsfn_(tsfn) {}
  Tsfn tsfn_;
  std::atomic<bool> closed_{false};
};

}  // namespace localleap
