// The JS Model object (AddonModel): thin glue that queues engine work on the model's worker
// thread and settles promises on the JS thread.
#pragma once
#include <napi.h>

#include <atomic>
#include <memory>
#include <vector>

#include "../engine/engine_model.h"
#include "../engine/scheduler.h"
#include "../engine/worker.h"

namespace localleap {

// What a model owns. `engine` is touched only on the worker thread.
struct ModelCore {
  ModelCore(int threads, int maxBatchSize)
      : scheduler(std::make_unique<Scheduler>(maxBatchSize)), worker(std::make_unique<Worker>(threads)) {}
  // Every generate() call goes through it (any thread submits; its drain runs on the worker).
  // Declared before the worker: destroyed after the worker thread has joined.
  std::unique_ptr<Scheduler> scheduler;
  std::unique_ptr<Worker> worker;
  std::unique_ptr<EngineModel> engine;
  std::atomic<bool> disposed{false};

  // The abort flags of generations queued or running (JS thread only): when the environment
  // shuts down (process exit, worker.terminate()), they are all set, so the join in ~ModelWrap
  // waits for one step rather than for every queued generation to finish.
  std::vector<std::weak_ptr<std::atomic<bool>>> inFlight;
  void track(const std::shared_ptr<std::atomic<bool>>& flag);
  void abortAll();
};

class ModelWrap : public Napi::ObjectWrap<ModelWrap> {
 public:
  static Napi::Function define(Napi::Env env);
  static Napi::Object create(Napi::Env env, std::shared_ptr<ModelCore> core);
  explicit ModelWrap(const Napi::CallbackInfo& info);
  ~ModelWrap() override;

 private:
  Napi::Value configure(const Napi::CallbackInfo& info);
  Napi::Value generate(const Napi::CallbackInfo& info);
  Napi::Value benchForward(const Napi::CallbackInfo& info);
  Napi::Value dispose(const Napi::CallbackInfo& info);
  Napi::Value disposed(const Napi::CallbackInfo& info);

  std::shared_ptr<ModelCore> core_;
  // Registered with napi_add_env_cleanup_hook; `ran` once the environment shut down.
  struct ShutdownHook {
    std::weak_ptr<ModelCore> core;
    bool ran = false;
  };
  static void onShutdown(void* hook);
  std::unique_ptr<ShutdownHook> shutdownHook_;
};

// addon.loadModel(request): Promise<AddonLoadResult>.
Napi::Value loadModel(const Napi::CallbackInfo& info);

}  // namespace localleap
