// Module entry: registers the addon's functions and classes (lib/bindings/AddonTypes.ts Addon).
#include <napi.h>

#include "abort_token.h"
#include "apd_tokens_hook.h"
#include "addon_data.h"
#include "build_info.h"
#include "model_wrap.h"
#include "rule_hook.h"

namespace localleap {

Napi::Object init(Napi::Env env, Napi::Object exports) {
  auto* data = new AddonData();
  Napi::Function abortToken = AbortToken::define(env);
  Napi::Function model = ModelWrap::define(env);
  data->abortTokenClass = Napi::Persistent(abortToken);
  data->modelClass = Napi::Persistent(model);
  env.SetInstanceData<AddonData>(data);

  exports.Set("AbortToken", abortToken);
  exports.Set("buildInfo", Napi::Function::New<buildInfo>(env, "buildInfo"));
  exports.Set("loadModel", Napi::Function::New<loadModel>(env, "loadModel"));
  exports.Set("applyRule", Napi::Function::New<applyRule>(env, "applyRule"));
  exports.Set("applyApdTokens", Napi::Function::New<applyApdTokens>(env, "applyApdTokens"));
  exports.Set("benchKernel", Napi::Function::New<benchKernel>(env, "benchKernel"));
  return exports;
}

}  // namespace localleap

// NODE_API_MODULE pastes its second argument into a name, so it must be unqualified.
static Napi::Object InitLocalleap(Napi::Env env, Napi::Object exports) { return localleap::init(env, exports); }
NODE_API_MODULE(localleap, InitLocalleap)
