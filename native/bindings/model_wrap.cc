#include "model_wrap.h"

#include <algorithm>

#include "../engine/errors.h"
#include "abort_token.h"
#include "addon_data.h"
#include "js_args.h"
#include "js_channel.h"
#include "js_convert.h"
#include "js_errors.h"

namespace localleap {
namespace {

// JS handles an operation needs on completion. Created and deleted on the JS thread only; the
// worker thread just carries the pointer.
struct Pending {
  explicit Pending(Napi::Env env) : deferred(Napi::Promise::Deferred::New(env)) {}
  Napi::Promise::Deferred deferred;
  Napi::ObjectReference keepAlive;       // the model object, alive while work is queued
  Napi::FunctionReference callback;      // onProgress / onStep, when given
};

// Posts the settlement of `pending` and closes the channel; `resolve` builds the value on the JS thread.
void settle(const std::shared_ptr<JsChannel>& channel, Pending* pending,
            std::function<Napi::Value(Napi::Env)> resolve) {
  channel->post([pending, resolve](Napi::Env env) {
    Napi::HandleScope scope(env);
    try {
      pending->deferred.Resolve(resolve(env));
    } catch (const Napi::Error& e) {
      pending->deferred.Reject(e.Value());
    }
    delete pending;
  });
  channel->close();
}

void fail(const std::shared_ptr<JsChannel>& channel, Pending* pending, const EngineError& error) {
  channel->post([pending, error](Napi::Env env) {
    Napi::HandleScope scope(env);
    pending->deferred.Reject(toJsError(env, error).Value());
    delete pending;
  });
  channel->close();
}

// A failed load: reject, then end the model's worker thread at once (the model object never
// reaches JS, and waiting for its garbage collection kept one OS thread per failed load).
void failLoad(const std::shared_ptr<JsChannel>& channel, Pending* pending, ModelCore* core, const EngineError& error) {
  channel->post([pending, core, error](Napi::Env env) {
    Napi::HandleScope scope(env);
    pending->deferred.Reject(toJsError(env, error).Value());
    core->disposed = true;
    core->worker.reset();  // its last job is returning: joins at once
    delete pending;
  });
  channel->close();
}

Napi::Value rejected(Napi::Env env, const Napi::Error& error) {
  auto deferred = Napi::Promise::Deferred::New(env);
  deferred.Reject(error.Value());
  return deferred.Promise();
}

// The parts of a loaded archive the JS side receives.
struct ArchiveSummary {
  std::string metadataJson, tokenizerJson, tokenizerConfigJson, learnedFilterJson;
  uint64_t fileBytes = 0;
  std::vector<std::string> methods;
  // APD's causal LM, when loadModel got apd.arModelPath.
  bool hasAr = false;
  std::string arMetadataJson, arTokenizerJson;
  std::vector<std::string> arMethods;
};

// Rows decoded at once when loadModel does not say (LoadModelOptions.maxBatchSize).
constexpr int kDefaultMaxBatchSize = 32;

EngineError disposedError() {
  return EngineError(ErrorCode::kModelDisposed, "the model was disposed: load it again to use it");
}

}  // namespace

void ModelCore::track(const std::shared_ptr<std::atomic<bool>>& flag) {
  inFlight.erase(std::remove_if(inFlight.begin(), inFlight.end(), [](const auto& f) { return f.expired(); }),
                 inFlight.end());
  inFlight.push_back(flag);
}

void ModelCore::abortAll() {
  disposed = true;
  for (const auto& weak : inFlight) {
    if (auto flag = weak.lock()) flag->store(true);
  }
}

Napi::Function ModelWrap::define(Napi::Env env) {
  return DefineClass(env, "Model",
                     {InstanceMethod<&ModelWrap::configure>("configure"),
                      InstanceMethod<&ModelWrap::generate>("generate"),
                      InstanceMethod<&ModelWrap::benchForward>("benchForward"),
                      InstanceMethod<&ModelWrap::dispose>("dispose"),
                      InstanceAccessor<&ModelWrap::disposed>("disposed")});
}

Napi::Object ModelWrap::create(Napi::Env env, std::shared_ptr<ModelCore> core) {
  Napi::Object obj = env.GetInstanceData<AddonData>()->modelClass.New({});
  ModelWrap* wrap = Unwrap(obj);
  wrap->core_ = std::move(core);
  auto hook = std::make_unique<ShutdownHook>();
  hook->core = wrap->core_;
  if (napi_add_env_cleanup_hook(env, &ModelWrap::onShutdown, hook.get()) == napi_ok) wrap->shutdownHook_ = std::move(hook);
  return obj;
}

ModelWrap::ModelWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ModelWrap>(info) {}

void ModelWrap::onShutdown(void* data) {
  auto* hook = static_cast<ShutdownHook*>(data);
  hook->ran = true;
  if (auto core = hook->core.lock()) core->abortAll();
}

ModelWrap::~ModelWrap() {
  if (shutdownHook_ && !shutdownHook_->ran) napi_remove_env_cleanup_hook(Env(), &ModelWrap::onShutdown, shutdownHook_.get());
  // Garbage-collected: no work is queued (queued work keeps this object alive). Free the engine
  // on its own thread, then join it.
  if (core_ && core_->worker) {
    ModelCore* core = core_.get();
    core->worker->post([core] { core->engine.reset(); });
    core->worker.reset();
  }
}

Napi::Value ModelWrap::configure(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!core_) throwInvalidArgument(env, "Model objects come from loadModel()");
  if (core_->disposed) return rejected(env, toJsError(env, disposedError()));
  ModelConfig config;
  try {
    config = toModelConfig(args::object(info[0], "config"));
  } catch (const Napi::Error& e) {
    return rejected(env, e);
  } catch (const EngineError& e) {
    return rejected(env, toJsError(env, e));
  }
  auto* pending = new Pending(env);
  pending->keepAlive = Napi::Persistent(Value());
  auto channel = JsChannel::open(env, "localleap.configure");
  ModelCore* core = core_.get();
  core->worker->post([core, config, pending, channel] {
    try {
      ModelInfo modelInfo = core->engine->configure(config);
      settle(channel, pending, [modelInfo](Napi::Env env) { return fromModelInfo(env, modelInfo); });
    } catch (...) {
      fail(channel, pending, currentErrorAsEngineError("configuring the model"));
    }
  });
  return pending->deferred.Promise();
}

Napi::Value ModelWrap::generate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!core_) throwInvalidArgument(env, "Model objects come from loadModel()");
  if (core_->disposed) return rejected(env, toJsError(env, disposedError()));
  GenerateRequest request;
  std::shared_ptr<std::atomic<bool>> abort;
  std::shared_ptr<std::atomic<bool>> finish;
  Napi::Function onStep;
  try {
    Napi::Object obj = args::object(info[0], "request");
    request = toGenerateRequest(obj);
    abort = AbortToken::flagOf(env, obj.Get("abort"));
    finish = AbortToken::flagOf(env, obj.Get("finish"));
    onStep = args::optionalFunction(obj, "onStep");
  } catch (const Napi::Error& e) {
    return rejected(env, e);
  }
  if (!abort) abort = std::make_shared<std::atomic<bool>>(false);  // for abortAll() at shutdown
  core_->track(abort);
  auto* pending = new Pending(env);
  pending->keepAlive = Napi::Persistent(Value());
  if (!onStep.IsEmpty()) pending->callback = Napi::Persistent(onStep);
  auto channel = JsChannel::open(env, "localleap.generate");
  ModelCore* core = core_.get();
  auto call = std::make_unique<GenerateCall>();
  call->request = std::move(request);
  call->abort = abort;
  call->finish = finish;
  if (!onStep.IsEmpty()) {
    call->observer = [pending, channel](StepEvent&& event) {
      auto shared = std::make_shared<StepEvent>(std::move(event));
      channel->post([pending, shared](Napi::Env env) {
        Napi::HandleScope scope(env);
        try {
          pending->callback.Call({fromStepEvent(env, *shared)});
        } catch (const Napi::Error&) {
          // The TS layer catches its own callback errors; a stray one must not kill decoding.
        }
      });
    };
  }
  call->resolve = [pending, channel](GenerateResult&& result) {
    auto shared = std::make_shared<GenerateResult>(std::move(result));
    settle(channel, pending, [shared](Napi::Env env) { return fromGenerateResult(env, *shared); });
  };
  call->reject = [pending, channel](const EngineError& error) { fail(channel, pending, error); };
  // The call joins the model's running batch; when the scheduler was idle, a drain job starts it.
  if (core->scheduler->submit(std::move(call))) {
    core->worker->post([core] { core->engine->drain(*core->scheduler); });
  }
  return pending->deferred.Promise();
}

Napi::Value ModelWrap::benchForward(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!core_) throwInvalidArgument(env, "Model objects come from loadModel()");
  if (core_->disposed) return rejected(env, toJsError(env, disposedError()));
  ForwardBenchRequest request;
  try {
    Napi::Object obj = args::object(info[0], "request");
    request.batch = args::integer(obj, "batch", 1, 4096);
    request.promptLength = args::integer(obj, "promptLength", 1, 1 << 24);
    request.genLength = args::integer(obj, "genLength", 1, 1 << 24);
    request.blockLength = args::integer(obj, "blockLength", 1, 1 << 24);
    request.iterations = args::integer(obj, "iterations", 1, 1 << 20);
    request.cudaGraph = args::boolean(obj, "cudaGraph");
  } catch (const Napi::Error& e) {
    return rejected(env, e);
  }
  auto* pending = new Pending(env);
  pending->keepAlive = Napi::Persistent(Value());
  auto channel = JsChannel::open(env, "localleap.benchForward");
  ModelCore* core = core_.get();
  core->worker->post([core, request, pending, channel] {
    try {
      ForwardBenchResult r = core->engine->benchForward(request);
      settle(channel, pending, [r](Napi::Env env) {
        Napi::Object o = Napi::Object::New(env);
        o.Set("medianMs", r.medianMs);
        o.Set("minMs", r.minMs);
        o.Set("cudaGraph", r.cudaGraph);
        return o;
      });
    } catch (...) {
      fail(channel, pending, currentErrorAsEngineError("timing the forward"));
    }
  });
  return pending->deferred.Promise();
}

Napi::Value ModelWrap::dispose(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!core_) throwInvalidArgument(env, "Model objects come from loadModel()");
  auto* pending = new Pending(env);
  if (core_->disposed.exchange(true)) {
    pending->deferred.Resolve(env.Undefined());
    Napi::Promise promise = pending->deferred.Promise();
    delete pending;
    return promise;
  }
  pending->keepAlive = Napi::Persistent(Value());
  auto channel = JsChannel::open(env, "localleap.dispose");
  ModelCore* core = core_.get();
  // Queued after any work already posted, so in-flight generations finish first.
  core->worker->post([core, pending, channel] {
    core->engine.reset();
    settle(channel, pending, [core](Napi::Env env) {
      core->worker.reset();  // idle now: joins at once
      return env.Undefined();
    });
  });
  return pending->deferred.Promise();
}

Napi::Value ModelWrap::disposed(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), !core_ || core_->disposed.load());
}

Napi::Value loadModel(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path, deviceName, arPath;
  int threads = 0;
  int maxBatchSize = 0;
  LoadOptions options;
  std::shared_ptr<std::atomic<bool>> abort;
  Napi::Function onProgress;
  c10::Device device(c10::kCPU);
  try {
    Napi::Object req = args::object(info[0], "request");
    path = args::string(req, "path");
    if (req.Has("arPath") && !req.Get("arPath").IsUndefined()) arPath = args::string(req, "arPath");
    deviceName = args::string(req, "device");
    threads = args::integer(req, "threads", 0, 4096);
    maxBatchSize = req.Has("maxBatchSize") ? args::integer(req, "maxBatchSize", 1, 4096) : kDefaultMaxBatchSize;
    options.trustModelCode = args::optionalBoolean(req, "trustModelCode", false);
    abort = AbortToken::flagOf(env, req.Get("abort"));
    onProgress = args::optionalFunction(req, "onProgress");
    device = resolveDevice(deviceName);
  } catch (const Napi::Error& e) {
    return rejected(env, e);
  } catch (const EngineError& e) {
    return rejected(env, toJsError(env, e));
  }

  std::shared_ptr<ModelCore> core;
  try {
    core = std::make_shared<ModelCore>(threads, maxBatchSize);
  } catch (...) {
    // std::system_error when the OS refuses the worker thread: must not escape into N-API.
    return rejected(env, toJsError(env, currentErrorAsEngineError("starting the model's worker thread")));
  }
  Napi::Object model = ModelWrap::create(env, core);
  auto* pending = new Pending(env);
  pending->keepAlive = Napi::Persistent(model);
  if (!onProgress.IsEmpty()) pending->callback = Napi::Persistent(onProgress);
  auto channel = JsChannel::open(env, "localleap.load");
  ModelCore* raw = core.get();
  const bool reporting = !onProgress.IsEmpty();
  raw->worker->post([raw, path, arPath, device, options, abort, pending, channel, reporting] {
    try {
      LoadProgressFn progress;
      if (reporting) {
        progress = [pending, channel](uint64_t read, uint64_t total) {
          channel->post([pending, read, total](Napi::Env env) {
            Napi::HandleScope scope(env);
            Napi::Object p = Napi::Object::New(env);
            p.Set("stage", "reading");
            p.Set("bytesRead", Napi::Number::New(env, (double)read));
            p.Set("totalBytes", Napi::Number::New(env, (double)total));
            try {
              pending->callback.Call({p});
            } catch (const Napi::Error&) {
            }
          });
        };
      }
      useDeviceOnThisThread(device);
      LoadedArchive archive = loadArchive(path, device, options, progress, abort.get());
      auto meta = std::make_shared<ArchiveSummary>();
      meta->metadataJson = archive.metadataJson;
      meta->tokenizerJson = archive.tokenizerJson;
      meta->tokenizerConfigJson = archive.tokenizerConfigJson;
      meta->learnedFilterJson = archive.learnedFilterJson;
      meta->fileBytes = archive.fileBytes;
      meta->methods = archive.methods;
      // APD's causal LM: read on the same worker thread, onto the same device.
      std::unique_ptr<LoadedArchive> ar;
      if (!arPath.empty()) {
        ar = std::make_unique<LoadedArchive>(loadArchive(arPath, device, options, LoadProgressFn(), abort.get()));
        meta->arMetadataJson = ar->metadataJson;
        meta->arTokenizerJson = ar->tokenizerJson;
        meta->arMethods = ar->methods;
        meta->hasAr = true;
      }
      raw->engine = std::make_unique<EngineModel>(std::move(archive), device);
      if (ar) raw->engine->attachCausalArchive(std::move(*ar));
      settle(channel, pending, [pending, meta](Napi::Env env) {
        Napi::Object o = Napi::Object::New(env);
        o.Set("model", pending->keepAlive.Value());
        o.Set("metadataJson", meta->metadataJson);
        o.Set("tokenizerJson", meta->tokenizerJson);
        o.Set("tokenizerConfigJson", meta->tokenizerConfigJson);
        o.Set("learnedFilterJson", meta->learnedFilterJson);
        o.Set("fileBytes", Napi::Number::New(env, (double)meta->fileBytes));
        Napi::Array methods = Napi::Array::New(env, meta->methods.size());
        for (size_t i = 0; i < meta->methods.size(); ++i) methods.Set((uint32_t)i, meta->methods[i]);
        o.Set("methods", methods);
        if (meta->hasAr) {
          Napi::Object a = Napi::Object::New(env);
          a.Set("metadataJson", meta->arMetadataJson);
          a.Set("tokenizerJson", meta->arTokenizerJson);
          Napi::Array arMethods = Napi::Array::New(env, meta->arMethods.size());
          for (size_t i = 0; i < meta->arMethods.size(); ++i) arMethods.Set((uint32_t)i, meta->arMethods[i]);
          a.Set("methods", arMethods);
          o.Set("ar", a);
        }
        return o;
      });
    } catch (...) {
      failLoad(channel, pending, raw, currentErrorAsEngineError("loading the model"));
    }
  });
  return pending->deferred.Promise();
}

}  // namespace localleap
