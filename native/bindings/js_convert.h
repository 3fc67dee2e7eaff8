// Conversions between JS objects (lib/bindings/AddonTypes.ts) and engine structs.
#pragma once
#include <napi.h>

#include "../engine/engine_model.h"
#include "../engine/generation.h"

namespace localleap {

Strategy parseStrategy(Napi::Env env, const std::string& name);
CacheMode parseCacheMode(Napi::Env env, const Napi::Value& value);
ModelConfig toModelConfig(const Napi::Object& obj);
// A learned filter {blockLength, hidden, w1, b1, w2, b2 (Float32Array)}; LEARNED_FILTER_INVALID when bad.
LearnedFilter toLearnedFilter(const Napi::Object& obj);
GenerateRequest toGenerateRequest(const Napi::Object& obj);

Napi::Object fromModelInfo(Napi::Env env, const ModelInfo& info);
Napi::Object fromGenerateResult(Napi::Env env, const GenerateResult& result);
Napi::Object fromStepEvent(Napi::Env env, const StepEvent& event);

Napi::Int32Array int32ArrayOf(Napi::Env env, const std::vector<int32_t>& values);

}  // namespace localleap
