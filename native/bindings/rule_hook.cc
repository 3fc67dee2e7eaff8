#include "rule_hook.h"

#include <cmath>

#include "../engine/decoder.h"
#include "../engine/errors.h"
#include "../engine/rule_case.h"
#include "js_args.h"
#include "js_convert.h"
#include "js_errors.h"

namespace localleap {
namespace {

LogitsDType parseDType(Napi::Env env, const std::string& name) {
  if (name == "float32") return LogitsDType::kFloat32;
  if (name == "bfloat16") return LogitsDType::kBFloat16;
  if (name == "float16") return LogitsDType::kFloat16;
  throwInvalidArgument(env, "dtype must be 'float32', 'bfloat16' or 'float16'");
}

RuleCase toRuleCase(const Napi::Object& obj) {
  Napi::Env env = obj.Env();
  RuleCase c;
  c.dtype = parseDType(env, args::string(obj, "dtype"));
  c.batch = args::integer(obj, "batch", 1, 1 << 16);
  c.blockLength = args::integer(obj, "blockLength", 1, 1024);
  c.vocab = args::integer(obj, "vocabSize", 1, 1 << 20);
  Napi::Value logits = obj.Get("logits");
  if (c.dtype == LogitsDType::kFloat32) {
    if (!logits.IsTypedArray() || logits.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array) {
      throwInvalidArgument(env, "logits must be a Float32Array for dtype float32");
    }
    auto a = logits.As<Napi::Float32Array>();
    c.logitsF32.assign(a.Data(), a.Data() + a.ElementLength());
  } else {
    if (!logits.IsTypedArray() || logits.As<Napi::TypedArray>().TypedArrayType() != napi_uint16_array) {
      throwInvalidArgument(env, "logits must be a Uint16Array of bit patterns for bfloat16/float16");
    }
    auto a = logits.As<Napi::Uint16Array>();
    c.logitsBits.assign(a.Data(), a.Data() + a.ElementLength());
  }
  c.block = args::int32Values(obj.Get("block"), "block");
  RuleParams p{};
  p.strategy = parseStrategy(env, args::string(obj, "strategy"));
  p.maskId = args::integer(obj, "maskId", 0, 1 << 30);
  p.canvasLength = c.blockLength;
  p.blockStart = 0;
  p.blockLength = c.blockLength;
  p.logitsOffset = 0;
  p.genStart = -args::integer(obj, "genOffset", 0, 1 << 24);
  p.stepsPerBlock = 1;
  p.topKOverride = args::integer(obj, "topK", 1, 1024);
  p.radius = args::integer(obj, "radius", 0, 1 << 24);
  p.threshold = (float)args::number(obj, "threshold");
  p.anchorThreshold = (float)args::number(obj, "anchorThreshold");
  p.relaxedThreshold = (float)args::number(obj, "relaxedThreshold");
  p.temperature = (float)args::number(obj, "temperature");
  if (!std::isfinite(p.temperature) || p.temperature < 0) throwInvalidArgument(env, "temperature must be >= 0");
  p.invTemperature = p.temperature > 0 ? 1.0f / p.temperature : 0.0f;
  p.numEndIds = 0;
  // Optional AdaBlock length decision (docs/decoding.md "Adaptive blocks"): adaptive = { window,
  // fallbackLength, delimiterIds, delimiterThreshold, steps?, genLength? }; the case is a first step.
  Napi::Value adaptiveValue = obj.Get("adaptive");
  if (!adaptiveValue.IsUndefined()) {
    Napi::Object a = args::object(adaptiveValue, "adaptive");
    p.adaptiveWindow = args::integer(a, "window", 1, c.blockLength > 0 ? c.blockLength : 1);
    p.fallbackLength = args::integer(a, "fallbackLength", 1, c.blockLength > 0 ? c.blockLength : 1);
    p.delimiterThreshold = (float)args::number(a, "delimiterThreshold");
    std::vector<int> ids = args::intArray(a, "delimiterIds");
    if (ids.empty() || (int)ids.size() > kMaxDelimiterIds) throwInvalidArgument(env, "delimiterIds must hold 1 to 8 ids");
    p.numDelimiterIds = (int32_t)ids.size();
    for (size_t d = 0; d < ids.size(); ++d) p.delimiterIds[d] = ids[d];
    p.scheduleSteps = a.Has("steps") ? args::integer(a, "steps", 1, 1 << 24) : 1;
    p.genLength = a.Has("genLength") ? args::integer(a, "genLength", 1, 1 << 24) : 1;
  }
  // Strategy learned: acceptThreshold t (default 0.96) and the filter {blockLength, hidden, w1, b1, w2, b2}.
  const double accept = obj.Has("acceptThreshold") ? args::number(obj, "acceptThreshold") : 0.96;
  p.logitThreshold = learnedLogitThreshold(accept);
  Napi::Value filter = obj.Get("learnedFilter");
  if (!filter.IsUndefined()) c.filter = toLearnedFilter(args::object(filter, "learnedFilter"));
  c.params.assign(c.batch > 0 ? c.batch : 0, p);
  // Optional per-row overrides (mixed rows in one step): rows[b] may set strategy, topK, radius,
  // threshold, anchorThreshold, relaxedThreshold, acceptThreshold, temperature and genOffset of row b.
  Napi::Value rowsValue = obj.Get("rows");
  if (!rowsValue.IsUndefined()) {
    if (!rowsValue.IsArray()) throwInvalidArgument(env, "rows must be an array of per-row overrides");
    Napi::Array rows = rowsValue.As<Napi::Array>();
    if ((int)rows.Length() != c.batch) throwInvalidArgument(env, "rows must hold one entry per row");
    for (int b = 0; b < c.batch; ++b) {
      Napi::Object r = args::object(rows.Get((uint32_t)b), "rows[]");
      RuleParams& q = c.params[b];
      if (r.Has("strategy")) q.strategy = parseStrategy(env, args::string(r, "strategy"));
      if (r.Has("topK")) q.topKOverride = args::integer(r, "topK", 1, 1024);
      if (r.Has("radius")) q.radius = args::integer(r, "radius", 0, 1 << 24);
      if (r.Has("threshold")) q.threshold = (float)args::number(r, "threshold");
      if (r.Has("anchorThreshold")) q.anchorThreshold = (float)args::number(r, "anchorThreshold");
      if (r.Has("relaxedThreshold")) q.relaxedThreshold = (float)args::number(r, "relaxedThreshold");
      if (r.Has("acceptThreshold")) q.logitThreshold = learnedLogitThreshold(args::number(r, "acceptThreshold"));
      if (r.Has("genOffset")) q.genStart = -args::integer(r, "genOffset", 0, 1 << 24);
      if (r.Has("temperature")) {
        q.temperature = (float)args::number(r, "temperature");
        if (!std::isfinite(q.temperature) || q.temperature < 0) throwInvalidArgument(env, "temperature must be >= 0");
        q.invTemperature = q.temperature > 0 ? 1.0f / q.temperature : 0.0f;
      }
    }
  }
  for (double s : args::numberArray(obj, "seeds")) c.seeds.push_back((uint64_t)s);
  for (int s : args::intArray(obj, "rowSteps")) c.rowSteps.push_back(s);
  return c;
}

Napi::Object fromRuleCaseResult(Napi::Env env, const RuleCaseResult& r) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("tokens", int32ArrayOf(env, r.tokens));
  Napi::Float32Array conf = Napi::Float32Array::New(env, r.conf.size());
  std::copy(r.conf.begin(), r.conf.end(), conf.Data());
  o.Set("confidences", conf);
  Napi::Uint8Array commit = Napi::Uint8Array::New(env, r.commit.size());
  std::copy(r.commit.begin(), r.commit.end(), commit.Data());
  o.Set("commit", commit);
  o.Set("block", int32ArrayOf(env, r.block));
  o.Set("blockLengths", int32ArrayOf(env, r.blockLengths));
  return o;
}

}  // namespace

Napi::Value applyRule(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RuleCase c;
  try {
    c = toRuleCase(args::object(info[0], "ruleCase"));
  } catch (const EngineError& e) {
    throw toJsError(env, e);  // a bad learnedFilter
  }
  if (!info[1].IsString()) throwInvalidArgument(env, "device must be 'cpu' or 'cuda'");
  const std::string device = info[1].As<Napi::String>().Utf8Value();
  try {
    checkRuleCase(c);
    if (device == "cpu") return fromRuleCaseResult(env, runRuleCaseCpu(c));
    if (device != "cuda") throwInvalidArgument(env, "device must be 'cpu' or 'cuda'");
#ifdef LOCALLEAP_WITH_CUDA
    return fromRuleCaseResult(env, runRuleCaseCuda(c));
#else
    throw EngineError(ErrorCode::kCudaUnavailable, "applyRule on 'cuda' needs the CUDA variant of the binary");
#endif
  } catch (const EngineError& e) {
    throw toJsError(env, e);
  } catch (const Napi::Error&) {
    throw;
  } catch (...) {
    throw toJsError(env, currentErrorAsEngineError("applyRule"));
  }
}

Napi::Value benchKernel(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object req = args::object(info[0], "request");
#ifdef LOCALLEAP_WITH_CUDA
  try {
    KernelBench b = benchKernelCuda(args::integer(req, "batch", 1, 1024), args::integer(req, "blockLength", 1, 1024),
                                    args::integer(req, "vocabSize", 1, 1 << 20),
                                    parseDType(env, args::string(req, "dtype")),
                                    parseStrategy(env, args::string(req, "strategy")),
                                    args::integer(req, "iterations", 1, 1 << 20),
                                    (uint64_t)args::integer(req, "seed", 0, 1 << 30));
    Napi::Object o = Napi::Object::New(env);
    o.Set("medianMs", b.medianMs);
    o.Set("minMs", b.minMs);
    o.Set("bytes", b.bytes);
    return o;
  } catch (const EngineError& e) {
    throw toJsError(env, e);
  } catch (const Napi::Error&) {
    throw;
  } catch (...) {
    throw toJsError(env, currentErrorAsEngineError("benchKernel"));
  }
#else
  (void)req;
  throw toJsError(env, EngineError(ErrorCode::kCudaUnavailable, "benchKernel needs the CUDA variant of the binary"));
#endif
}

}  // namespace localleap
