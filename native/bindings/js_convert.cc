#include "js_convert.h"

#include <cmath>

#include "js_args.h"
#include "js_errors.h"

namespace localleap {

Strategy parseStrategy(Napi::Env env, const std::string& name) {
  if (name == "low-confidence") return kLowConfidence;
  if (name == "random") return kRandom;
  if (name == "threshold") return kThreshold;
  if (name == "localleap") return kLocalLeap;
  throwInvalidArgument(env, "strategy must be 'low-confidence', 'random', 'threshold' or 'localleap'");
}

ModelConfig toModelConfig(const Napi::Object& obj) {
  ModelConfig c;
  c.vocabSize = args::integer(obj, "vocabSize", 1, 1LL << 30);
  c.maskId = args::integer(obj, "maskId", 0, c.vocabSize - 1);
  c.eosId = args::integer(obj, "eosId", 0, c.vocabSize - 1);
  c.padId = args::integer(obj, "padId", 0, c.vocabSize - 1);
  c.endIds = args::intArray(obj, "endIds");
  if (c.endIds.empty() || (int)c.endIds.size() > kMaxEndIds) {
    throwInvalidArgument(obj.Env(), "endIds must hold 1 to 8 token ids");
  }
  for (int id : c.endIds) {
    if (id < 0 || id >= c.vocabSize) throwInvalidArgument(obj.Env(), "endIds must be token ids below vocabSize");
  }
  c.logitsShifted = args::boolean(obj, "logitsShifted");
  c.maxLength = args::integer(obj, "maxLength", 2, 1 << 24);
  return c;
}

GenerateRequest toGenerateRequest(const Napi::Object& obj) {
  Napi::Env env = obj.Env();
  GenerateRequest r;
  Napi::Value prompts = obj.Get("prompts");
  if (!prompts.IsArray()) throwInvalidArgument(env, "prompts must be an array of Int32Array");
  Napi::Array list = prompts.As<Napi::Array>();
  for (uint32_t i = 0; i < list.Length(); ++i) {
    r.prompts.push_back(args::int32Values(list.Get(i), "prompts[" + std::to_string(i) + "]"));
  }
  r.genLength = args::integer(obj, "genLength", 1, 1 << 24);
  r.blockLength = args::integer(obj, "blockLength", 1, 1 << 24);
  r.strategy = parseStrategy(env, args::string(obj, "strategy"));
  r.steps = args::integer(obj, "steps", 0, 1 << 24);
  r.threshold = (float)args::number(obj, "threshold");
  r.anchorThreshold = (float)args::number(obj, "anchorThreshold");
  r.relaxedThreshold = (float)args::number(obj, "relaxedThreshold");
  r.radius = args::integer(obj, "radius", 0, 1 << 24);
  r.temperature = (float)args::number(obj, "temperature");
  for (double s : args::numberArray(obj, "seeds")) {
    if (!std::isfinite(s) || s < 0 || std::floor(s) != s || s > 9007199254740991.0) {
      throwInvalidArgument(env, "seeds must be integers in [0, 2^53)");
    }
    r.seeds.push_back((uint64_t)s);
  }
  r.stopAtEos = args::boolean(obj, "stopAtEos");
  r.cudaGraph = args::boolean(obj, "cudaGraph");
  return r;
}

Napi::Int32Array int32ArrayOf(Napi::Env env, const std::vector<int32_t>& values) {
  Napi::Int32Array a = Napi::Int32Array::New(env, values.size());
  std::copy(values.begin(), values.end(), a.Data());
  return a;
}

Napi::Object fromModelInfo(Napi::Env env, const ModelInfo& info) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("device", info.device);
  o.Set("dtype", info.dtype);
  o.Set("parameterBytes", Napi::Number::New(env, (double)info.parameterBytes));
  return o;
}

Napi::Object fromGenerateResult(Napi::Env env, const GenerateResult& result) {
  Napi::Object o = Napi::Object::New(env);
  Napi::Array rows = Napi::Array::New(env, result.rows.size());
  for (size_t b = 0; b < result.rows.size(); ++b) {
    Napi::Object row = Napi::Object::New(env);
    row.Set("tokens", int32ArrayOf(env, result.rows[b].tokens));
    row.Set("steps", result.rows[b].steps);
    row.Set("stepsPerBlock", int32ArrayOf(env, result.rows[b].stepsPerBlock));
    rows.Set((uint32_t)b, row);
  }
  o.Set("rows", rows);
  o.Set("batchSteps", result.batchSteps);
  o.Set("totalMs", result.totalMs);
  o.Set("stepMs", result.stepMs);
  o.Set("cudaGraph", result.cudaGraph);
  o.Set("cudaGraphFallbackReason", result.cudaGraphFallbackReason);
  return o;
}

Napi::Object fromStepEvent(Napi::Env env, const StepEvent& event) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("step", event.step);
  o.Set("block", event.block);
  Napi::Array rows = Napi::Array::New(env, event.rows.size());
  for (size_t b = 0; b < event.rows.size(); ++b) {
    Napi::Object row = Napi::Object::New(env);
    row.Set("positions", int32ArrayOf(env, event.rows[b].positions));
    row.Set("tokens", int32ArrayOf(env, event.rows[b].tokens));
    rows.Set((uint32_t)b, row);
  }
  o.Set("rows", rows);
  return o;
}

}  // namespace localleap
