#include "js_errors.h"

namespace localleap {

Napi::Error toJsError(Napi::Env env, const EngineError& error) {
  Napi::Error js = Napi::Error::New(env, error.what());
  js.Set("code", Napi::String::New(env, errorCodeName(error.code())));
  if (!error.field().empty()) js.Set("field", Napi::String::New(env, error.field()));
  return js;
}

void throwInvalidArgument(Napi::Env env, const std::string& message) {
  Napi::TypeError js = Napi::TypeError::New(env, message);
  js.Set("code", Napi::String::New(env, "INVALID_ARGUMENT"));
  throw js;
}

}  // namespace localleap
