// Reading arguments from JS objects with a clear INVALID_ARGUMENT error for each bad field.
#pragma once
#include <napi.h>

#include <string>
#include <vector>

namespace localleap {
namespace args {

Napi::Object object(const Napi::Value& value, const std::string& what);
double number(const Napi::Object& obj, const char* key);
int integer(const Napi::Object& obj, const char* key, long long min, long long max);
bool boolean(const Napi::Object& obj, const char* key);
// `fallback` when the key is absent (undefined).
bool optionalBoolean(const Napi::Object& obj, const char* key, bool fallback);
std::string string(const Napi::Object& obj, const char* key);
std::vector<int> intArray(const Napi::Object& obj, const char* key);
std::vector<double> numberArray(const Napi::Object& obj, const char* key);
// An Int32Array (or plain array of integers) as int32 values.
std::vector<int32_t> int32Values(const Napi::Value& value, const std::string& what);
// Optional function; empty when absent.
Napi::Function optionalFunction(const Napi::Object& obj, const char* key);

}  // namespace args
}  // namespace localleap
