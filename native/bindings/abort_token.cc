#include "abort_token.h"

#include "addon_data.h"
#include "js_errors.h"

namespace localleap {

Napi::Function AbortToken::define(Napi::Env env) {
  return DefineClass(env, "AbortToken",
                     {InstanceMethod<&AbortToken::abort>("abort"),
                      InstanceAccessor<&AbortToken::aborted>("aborted")});
}

AbortToken::AbortToken(const Napi::CallbackInfo& info) : Napi::ObjectWrap<AbortToken>(info) {}

void AbortToken::abort(const Napi::CallbackInfo&) { flag_->store(true); }

Napi::Value AbortToken::aborted(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), flag_->load());
}

std::shared_ptr<std::atomic<bool>> AbortToken::flagOf(Napi::Env env, const Napi::Value& value) {
  if (value.IsUndefined() || value.IsNull()) return nullptr;
  AddonData* data = env.GetInstanceData<AddonData>();
  if (!value.IsObject() || !value.As<Napi::Object>().InstanceOf(data->abortTokenClass.Value())) {
    throwInvalidArgument(env, "abort must be an AbortToken");
  }
  return Unwrap(value.As<Napi::Object>())->flag_;
}

}  // namespace localleap
