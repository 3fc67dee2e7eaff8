#include "js_convert.h"

#include <algorithm>
#include <cmath>

#include "../engine/errors.h"
#include "../kernels/commit_kernel_limits.h"
#include "js_args.h"
#include "js_errors.h"

namespace localleap {

Strategy parseStrategy(Napi::Env env, const std::string& name) {
  if (name == "low-confidence") return kLowConfidence;
  if (name == "random") return kRandom;
  if (name == "threshold") return kThreshold;
  if (name == "localleap") return kLocalLeap;
  if (name == "learned") return kLearned;
  if (name == "apd") return kApd;
  throwInvalidArgument(env, "strategy must be 'low-confidence', 'random', 'threshold', 'localleap', 'learned' or 'apd'");
}

CacheMode parseCacheMode(Napi::Env env, const Napi::Value& value) {
  if (value.IsUndefined()) return CacheMode::kNone;
  const std::string name = value.IsString() ? value.As<Napi::String>().Utf8Value() : "";
  if (name == "none") return CacheMode::kNone;
  if (name == "prefix") return CacheMode::kPrefix;
  if (name == "dual") return CacheMode::kDual;
  throwInvalidArgument(env, "cache must be 'none', 'prefix' or 'dual'");
}

namespace {

// The config comes from the archive's localleap.json: a bad value is the model's fault
// (MODEL_METADATA_INVALID naming the field), not the caller's.
template <typename Fn>
auto metadataField(const char* key, Fn&& read) -> decltype(read()) {
  try {
    return read();
  } catch (const Napi::Error& e) {
    throw EngineError(ErrorCode::kModelMetadataInvalid,
                      std::string("localleap.json: ") + e.Message() + " (the engine's limit)", key);
  }
}

[[noreturn]] void badMetadata(const char* key, const std::string& message) {
  throw EngineError(ErrorCode::kModelMetadataInvalid, std::string("localleap.json: ") + message, key);
}

[[noreturn]] void badFilter(const std::string& message) {
  throw EngineError(ErrorCode::kLearnedFilterInvalid, "learned_filter.json: " + message, "learnedFilter");
}

// count finite float32 values from a Float32Array field of the filter.
std::vector<float> filterWeights(const Napi::Object& obj, const char* key, size_t count) {
  Napi::Value v = obj.Get(key);
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array) {
    badFilter(std::string(key) + " must be a Float32Array");
  }
  auto a = v.As<Napi::Float32Array>();
  if (a.ElementLength() != count) {
    badFilter(std::string(key) + " must hold " + std::to_string(count) + " values, it holds " +
              std::to_string(a.ElementLength()));
  }
  std::vector<float> out(a.Data(), a.Data() + count);
  for (float x : out) {
    if (!std::isfinite(x)) badFilter(std::string(key) + " must hold finite numbers");
  }
  return out;
}

}  // namespace

// The learned filter lib/learnedFilter.ts parsed from the archive, checked again here.
LearnedFilter toLearnedFilter(const Napi::Object& obj) {
  LearnedFilter f;
  try {
    f.blockLength = args::integer(obj, "blockLength", 1, kMaxBlockLengthLimit);
    f.hidden = args::integer(obj, "hidden", 1, kMaxFilterHidden);
  } catch (const Napi::Error& e) {
    badFilter(e.Message() + " (the engine's limit)");
  }
  const size_t L = (size_t)f.blockLength, H = (size_t)f.hidden;
  f.w1 = filterWeights(obj, "w1", H * L);
  f.b1 = filterWeights(obj, "b1", H);
  f.w2 = filterWeights(obj, "w2", L * H);
  f.b2 = filterWeights(obj, "b2", L);
  return f;
}

ModelConfig toModelConfig(const Napi::Object& obj) {
  ModelConfig c;
  c.vocabSize = metadataField("vocabSize", [&] { return args::integer(obj, "vocabSize", 1, kMaxVocabSize); });
  c.maskId = metadataField("maskId", [&] { return args::integer(obj, "maskId", 0, c.vocabSize - 1); });
  c.eosId = metadataField("eosId", [&] { return args::integer(obj, "eosId", 0, c.vocabSize - 1); });
  c.padId = metadataField("padId", [&] { return args::integer(obj, "padId", 0, c.vocabSize - 1); });
  c.endIds = metadataField("endIds", [&] { return args::intArray(obj, "endIds"); });
  if (c.endIds.empty() || (int)c.endIds.size() > kMaxEndIds) {
    badMetadata("endIds", "endIds must hold 1 to " + std::to_string(kMaxEndIds) + " token ids, it holds " +
                              std::to_string(c.endIds.size()));
  }
  for (int id : c.endIds) {
    if (id < 0 || id >= c.vocabSize) badMetadata("endIds", "endIds must be token ids below vocabSize");
  }
  c.logitsShifted = metadataField("logitsShifted", [&] { return args::boolean(obj, "logitsShifted"); });
  c.maxLength = metadataField("maxLength", [&] { return args::integer(obj, "maxLength", 2, kMaxModelLength); });
  Napi::Value kvCache = obj.Get("kvCache");
  if (!kvCache.IsUndefined() && !kvCache.IsNull()) {
    // Format v2. The engine's bounds keep the cache's byte count far inside int64.
    Napi::Object spec = metadataField("kvCache", [&] { return args::object(kvCache, "kvCache"); });
    c.cache.layers = metadataField("kvCache", [&] { return args::integer(spec, "layers", 1, 1 << 16); });
    c.cache.kvHeads = metadataField("kvCache", [&] { return args::integer(spec, "kvHeads", 1, 1 << 16); });
    c.cache.headDim = metadataField("kvCache", [&] { return args::integer(spec, "headDim", 1, 1 << 16); });
  }
  // APD's causal LM (lib/loadModel.ts checked its metadata and the shared vocabulary).
  Napi::Value ar = obj.Get("ar");
  if (!ar.IsUndefined() && !ar.IsNull()) {
    Napi::Object a = args::object(ar, "ar");
    c.ar.loaded = true;
    c.ar.vocabSize = metadataField("vocabSize", [&] { return args::integer(a, "vocabSize", 1, kMaxVocabSize); });
    c.ar.eosId = metadataField("eosId", [&] { return args::integer(a, "eosId", 0, c.ar.vocabSize - 1); });
    c.ar.maxLength = metadataField("maxLength", [&] { return args::integer(a, "maxLength", 2, kMaxModelLength); });
    c.ar.vocabWidth = args::integer(a, "vocabWidth", 1, std::min(c.vocabSize, c.ar.vocabSize));
    Napi::Object spec = metadataField("kvCache", [&] { return args::object(a.Get("kvCache"), "kvCache"); });
    c.ar.cache.layers = metadataField("kvCache", [&] { return args::integer(spec, "layers", 1, 1 << 16); });
    c.ar.cache.kvHeads = metadataField("kvCache", [&] { return args::integer(spec, "kvHeads", 1, 1 << 16); });
    c.ar.cache.headDim = metadataField("kvCache", [&] { return args::integer(spec, "headDim", 1, 1 << 16); });
  }
  Napi::Value delimiters = obj.Get("delimiterIds");
  if (!delimiters.IsUndefined() && !delimiters.IsNull()) {
    c.delimiterIds = metadataField("delimiterIds", [&] { return args::intArray(obj, "delimiterIds"); });
    if (c.delimiterIds.empty() || (int)c.delimiterIds.size() > kMaxDelimiterIds) {
      badMetadata("delimiterIds", "delimiterIds must hold 1 to " + std::to_string(kMaxDelimiterIds) +
                                      " token ids, it holds " + std::to_string(c.delimiterIds.size()));
    }
    for (int id : c.delimiterIds) {
      if (id < 0 || id >= c.vocabSize || id == c.maskId) {
        badMetadata("delimiterIds", "delimiterIds must be token ids below vocabSize, other than the mask id");
      }
    }
  }
  Napi::Value filter = obj.Get("learnedFilter");
  if (!filter.IsUndefined() && !filter.IsNull()) {
    if (!filter.IsObject()) badFilter("learnedFilter must be an object");
    c.learnedFilter = toLearnedFilter(filter.As<Napi::Object>());
  }
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
  if (obj.Has("acceptThreshold")) r.acceptThreshold = args::number(obj, "acceptThreshold");
  const double temperature = args::number(obj, "temperature");
  if (temperature > 0 && temperature < kMinTemperature) {
    // Would round to 0 (greedy) or give an infinite 1 / T in float32.
    throwInvalidArgument(env, "temperature must be 0 (greedy) or at least 3e-39 (1 / temperature must be finite in "
                              "float32)");
  }
  r.temperature = (float)temperature;
  for (double s : args::numberArray(obj, "seeds")) {
    if (!std::isfinite(s) || s < 0 || std::floor(s) != s || s > 9007199254740991.0) {
      throwInvalidArgument(env, "seeds must be integers in [0, 2^53)");
    }
    r.seeds.push_back((uint64_t)s);
  }
  r.stopAtEos = args::boolean(obj, "stopAtEos");
  r.endOfText = args::optionalBoolean(obj, "endOfText", false);
  r.cudaGraph = args::boolean(obj, "cudaGraph");
  r.cache = parseCacheMode(env, obj.Get("cache"));
  if (r.strategy == kApd) {
    r.mixtureWeight = (float)args::number(obj, "mixtureWeight");
    Napi::Value window = obj.Get("kvWindow");
    r.kvWindow = window.IsNull() ? 0 : args::integer(obj, "kvWindow", 1, 1 << 24);
    r.maxLookahead = args::integer(obj, "maxLookahead", 1, 1 << 24);
  }
  // Adaptive blocks: { window, delimiterThreshold }, resolved by lib/options.ts; absent: fixed blocks.
  Napi::Value adaptive = obj.Get("adaptiveBlock");
  if (!adaptive.IsUndefined() && !adaptive.IsNull()) {
    Napi::Object a = args::object(adaptive, "adaptiveBlock");
    r.adaptiveBlock = true;
    r.adaptiveWindow = args::integer(a, "window", 1, 1 << 24);
    const double threshold = args::number(a, "delimiterThreshold");
    if (!std::isfinite(threshold) || threshold < 0 || threshold > 1) {
      throwInvalidArgument(env, "adaptiveBlock.delimiterThreshold must be a number in [0, 1]");
    }
    r.delimiterThreshold = (float)threshold;
  }
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
  if (info.gpuIndex >= 0) {
    Napi::Object gpu = Napi::Object::New(env);
    gpu.Set("index", info.gpuIndex);
    gpu.Set("name", info.gpuName);
    o.Set("gpu", gpu);
  } else {
    o.Set("gpu", env.Null());
  }
  o.Set("parameterBytes", Napi::Number::New(env, (double)info.parameterBytes));
  o.Set("kvCacheBytesPerPosition", Napi::Number::New(env, (double)info.kvCacheBytesPerPosition));
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
    if (result.rows[b].apd) {
      row.Set("dllmForwards", result.rows[b].dllmForwards);
      row.Set("arForwards", result.rows[b].arForwards);
      row.Set("acceptedPerStep", int32ArrayOf(env, result.rows[b].acceptedPerStep));
    }
    row.Set("blockLengths", int32ArrayOf(env, result.rows[b].blockLengths));
    rows.Set((uint32_t)b, row);
  }
  o.Set("rows", rows);
  o.Set("batchSteps", result.batchSteps);
  o.Set("totalMs", result.totalMs);
  o.Set("stepMs", result.stepMs);
  o.Set("fullSteps", result.fullSteps);
  o.Set("fullStepMs", result.fullStepMs);
  o.Set("cachedSteps", result.cachedSteps);
  o.Set("cachedStepMs", result.cachedStepMs);
  o.Set("rowsInForwards", Napi::Number::New(env, (double)result.rowsInForwards));
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
    row.Set("block", event.rows[b].block);
    row.Set("positions", int32ArrayOf(env, event.rows[b].positions));
    row.Set("tokens", int32ArrayOf(env, event.rows[b].tokens));
    rows.Set((uint32_t)b, row);
  }
  o.Set("rows", rows);
  return o;
}

}  // namespace localleap
