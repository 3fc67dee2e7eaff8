// AbortToken: a JS-visible flag the engine polls between steps and between reads while loading.
#pragma once
#include <napi.h>

#include <atomic>
#include <memory>

namespace localleap {

class AbortToken : public Napi::ObjectWrap<AbortToken> {
 public:
  static Napi::Function define(Napi::Env env);
  explicit AbortToken(const Napi::CallbackInfo& info);
  // The flag of `value` when it is an AbortToken, null when undefined; INVALID_ARGUMENT otherwise.
  static std::shared_ptr<std::atomic<bool>> flagOf(Napi::Env env, const Napi::Value& value);

 private:
  void abort(const Napi::CallbackInfo& info);
  Napi::Value aborted(const Napi::CallbackInfo& info);
  std::shared_ptr<std::atomic<bool>> flag_ = std::make_shared<std::atomic<bool>>(false);
};

}  // namespace localleap
