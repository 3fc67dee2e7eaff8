#include "js_args.h"

#include <cmath>

#include "js_errors.h"

namespace localleap {
namespace args {

Napi::Object object(const Napi::Value& value, const std::string& what) {
  if (!value.IsObject()) throwInvalidArgument(value.Env(), what + " must be an object");
  return value.As<Napi::Object>();
}

double number(const Napi::Object& obj, const char* key) {
  Napi::Value v = obj.Get(key);
  if (!v.IsNumber()) throwInvalidArgument(obj.Env(), std::string(key) + " must be a number");
  return v.As<Napi::Number>().DoubleValue();
}

int integer(const Napi::Object& obj, const char* key, long long min, long long max) {
  double d = number(obj, key);
  if (!std::isfinite(d) || std::floor(d) != d || d < (double)min || d > (double)max) {
    throwInvalidArgument(obj.Env(), std::string(key) + " must be an integer in [" + std::to_string(min) + ", " +
                                        std::to_string(max) + "]");
  }
  return (int)d;
}

bool boolean(const Napi::Object& obj, const char* key) {
  Napi::Value v = obj.Get(key);
  if (!v.IsBoolean()) throwInvalidArgument(obj.Env(), std::string(key) + " must be a boolean");
  return v.As<Napi::Boolean>().Value();
}

bool optionalBoolean(const Napi::Object& obj, const char* key, bool fallback) {
  if (obj.Get(key).IsUndefined()) return fallback;
  return boolean(obj, key);
}

std::string string(const Napi::Object& obj, const char* key) {
  Napi::Value v = obj.Get(key);
  if (!v.IsString()) throwInvalidArgument(obj.Env(), std::string(key) + " must be a string");
  return v.As<Napi::String>().Utf8Value();
}

std::vector<double> numberArray(const Napi::Object& obj, const char* key) {
  Napi::Value v = obj.Get(key);
  if (!v.IsArray()) throwInvalidArgument(obj.Env(), std::string(key) + " must be an array of numbers");
  Napi::Array a = v.As<Napi::Array>();
  std::vector<double> out(a.Length());
  for (uint32_t i = 0; i < a.Length(); ++i) {
    Napi::Value e = a.Get(i);
    if (!e.IsNumber()) throwInvalidArgument(obj.Env(), std::string(key) + " must be an array of numbers");
    out[i] = e.As<Napi::Number>().DoubleValue();
  }
  return out;
}

std::vector<int> intArray(const Napi::Object& obj, const char* key) {
  std::vector<int> out;
  for (double d : numberArray(obj, key)) {
    if (!std::isfinite(d) || std::floor(d) != d || std::fabs(d) > 2147483647.0) {
      throwInvalidArgument(obj.Env(), std::string(key) + " must be an array of 32-bit integers");
    }
    out.push_back((int)d);
  }
  return out;
}

std::vector<int32_t> int32Values(const Napi::Value& value, const std::string& what) {
  if (value.IsTypedArray() && value.As<Napi::TypedArray>().TypedArrayType() == napi_int32_array) {
    Napi::Int32Array a = value.As<Napi::Int32Array>();
    return std::vector<int32_t>(a.Data(), a.Data() + a.ElementLength());
  }
  if (value.IsArray()) {
    Napi::Array a = value.As<Napi::Array>();
    std::vector<int32_t> out(a.Length());
    for (uint32_t i = 0; i < a.Length(); ++i) {
      Napi::Value e = a.Get(i);
      double d = e.IsNumber() ? e.As<Napi::Number>().DoubleValue() : NAN;
      if (!std::isfinite(d) || std::floor(d) != d || std::fabs(d) > 2147483647.0) {
        throwInvalidArgument(value.Env(), what + " must hold 32-bit integers");
      }
      out[i] = (int32_t)d;
    }
    return out;
  }
  throwInvalidArgument(value.Env(), what + " must be an Int32Array or an array of integers");
}

Napi::Function optionalFunction(const Napi::Object& obj, const char* key) {
  Napi::Value v = obj.Get(key);
  if (v.IsUndefined() || v.IsNull()) return Napi::Function();
  if (!v.IsFunction()) throwInvalidArgument(obj.Env(), std::string(key) + " must be a function");
  return v.As<Napi::Function>();
}

}  // namespace args
}  // namespace localleap
