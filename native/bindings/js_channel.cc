#include "js_channel.h"

namespace localleap {

std::shared_ptr<JsChannel> JsChannel::open(Napi::Env env, const char* name) {
  return std::shared_ptr<JsChannel>(new JsChannel(Tsfn::New(env, name, 0, 1)));
}

JsChannel::~JsChannel() { close(); }

void JsChannel::callJs(Napi::Env env, Napi::Function, void*, Task* task) {
  // env is null when the environment is shutting down: then the task is only freed.
  if (env != nullptr && task != nullptr) (*task)(env);
  delete task;
}

void JsChannel::post(Task task) {
  if (closed_) return;
  auto* heapTask = new Task(std::move(task));
  if (tsfn_.NonBlockingCall(heapTask) != napi_ok) delete heapTask;
}

void JsChannel::close() {
  if (closed_.exchange(true)) return;
  tsfn_.Release();
}

}  // namespace localleap
