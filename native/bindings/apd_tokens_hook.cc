// APD's draft/target token choice (native/engine/apd_tokens.h) on given float32 logits, on either
// back end, so that a test can compare the CUDA kernel with the host rule case by case.
#include "apd_tokens_hook.h"

#include <torch/torch.h>

#include <cmath>

#include "../engine/apd_tokens.h"
#include "../engine/errors.h"
#include "js_args.h"
#include "js_convert.h"
#include "js_errors.h"

namespace localleap {
namespace {

std::vector<float> float32Values(Napi::Env env, const Napi::Value& value, const char* what) {
  if (!value.IsTypedArray() || value.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array) {
    throwInvalidArgument(env, std::string(what) + " must be a Float32Array");
  }
  auto a = value.As<Napi::Float32Array>();
  return std::vector<float>(a.Data(), a.Data() + a.ElementLength());
}

}  // namespace

Napi::Value applyApdTokens(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object c = args::object(info[0], "apdTokensCase");
  const int count = args::integer(c, "count", 0, 1 << 22);
  const int width = args::integer(c, "width", 1, 1 << 20);
  const int maskId = args::integer(c, "maskId", -1, 1 << 20);
  const double r = args::number(c, "mixtureWeight");
  const double temperature = args::number(c, "temperature");
  if (!(r >= 0 && r <= 1)) throwInvalidArgument(env, "mixtureWeight must be in [0, 1]");
  if (!std::isfinite(temperature) || temperature < 0) throwInvalidArgument(env, "temperature must be >= 0");
  const uint64_t seed = (uint64_t)args::integer(c, "seed", 0, 1 << 30);
  const uint64_t rowStep = (uint64_t)args::integer(c, "rowStep", 0, 1 << 24);
  std::vector<float> zd = float32Values(env, c.Get("zd"), "zd");
  const bool targets = !c.Get("za").IsUndefined();
  std::vector<float> za = targets ? float32Values(env, c.Get("za"), "za") : std::vector<float>{};
  if ((int64_t)zd.size() != (int64_t)count * width || (targets && za.size() != zd.size())) {
    throwInvalidArgument(env, "zd (and za) must hold count x width logits");
  }
  if (!info[1].IsString()) throwInvalidArgument(env, "device must be 'cpu' or 'cuda'");
  const std::string deviceName = info[1].As<Napi::String>().Utf8Value();
  if (deviceName != "cpu" && deviceName != "cuda") throwInvalidArgument(env, "device must be 'cpu' or 'cuda'");
  try {
#ifndef LOCALLEAP_WITH_CUDA
    if (deviceName == "cuda") {
      throw EngineError(ErrorCode::kCudaUnavailable, "applyApdTokens on 'cuda' needs the CUDA variant of the binary");
    }
#endif
    if (deviceName == "cuda" && !torch::cuda::is_available()) {
      throw EngineError(ErrorCode::kCudaUnavailable, "no CUDA device is visible");
    }
    const c10::Device device = deviceName == "cuda" ? c10::Device(c10::kCUDA, 0) : c10::Device(c10::kCPU);
    at::Tensor d = at::from_blob(zd.data(), {(int64_t)zd.size()}, at::kFloat).to(device).contiguous();
    at::Tensor a = targets ? at::from_blob(za.data(), {(int64_t)za.size()}, at::kFloat).to(device).contiguous() : at::Tensor();
    const float rf = (float)r;
    const apd::TokenRule rule{width, maskId, rf, 1.0f - rf, temperature > 0, temperature > 0 ? 1.0f / (float)temperature : 0.0f};
    std::vector<apd::TokenTask> tasks((size_t)count);
    for (int i = 0; i < count; ++i) {
      tasks[(size_t)i] = {d.data_ptr<float>() + (int64_t)i * width,
                          targets ? a.data_ptr<float>() + (int64_t)i * width : nullptr,
                          apd::noiseBase(seed, rowStep, (uint64_t)i)};
    }
    return int32ArrayOf(env, chooseApdTokens(tasks, rule, device));
  } catch (const EngineError& e) {
    throw toJsError(env, e);
  } catch (const Napi::Error&) {
    throw;
  } catch (...) {
    throw toJsError(env, currentErrorAsEngineError("applyApdTokens"));
  }
}

}  // namespace localleap
