// A loaded model: the TorchScript module on its device, its validated config and its back end.
// Not thread-safe: a model is used only from its Worker thread.
#pragma once
#include <atomic>
#include <memory>
#include <string>

#include "archive.h"
#include "forward_bench.h"
#include "generation.h"
#include "scheduler.h"
#include "step_backend.h"

namespace localleap {

struct ModelInfo {
  std::string device;  // "cpu" | "cuda"
  std::string dtype;   // of the logits
  int gpuIndex = -1;    // CUDA: the device index among the visible ones; -1 on the CPU
  std::string gpuName;
  int64_t parameterBytes = 0;
  // Format v2: KV-cache bytes per canvas position of one row (layers x 2 x kvHeads x headDim x dtype); 0 for v1.
  int64_t kvCacheBytesPerPosition = 0;
};

class EngineModel {
 public:
  EngineModel(LoadedArchive archive, c10::Device device);
  // APD: the causal LM loaded beside the dLLM (docs/decoding.md "APD"), on the same device.
  void attachCausalArchive(LoadedArchive ar) { ar_ = std::make_unique<LoadedArchive>(std::move(ar)); }
  ~EngineModel();

  // Probes the methods with the given metadata (MODEL_PROBE_FAILED on mismatch) and prepares the
  // back end. Must be called once before generate().
  ModelInfo configure(const ModelConfig& config);

  // Runs the scheduler's steps until it is idle (worker thread; every call it holds is resolved or
  // rejected through its callbacks). Before configure() every call is rejected.
  void drain(Scheduler& scheduler);

  // The bare block forward timed like a step (bench/): after configure().
  ForwardBenchResult benchForward(const ForwardBenchRequest& request);

  const LoadedArchive& archive() const { return archive_; }

 private:
  LoadedArchive archive_;
  c10::Device device_;
  ModelConfig config_;
  std::unique_ptr<StepBackend> backend_;
  std::unique_ptr<LoadedArchive> ar_;  // APD's causal LM, when loaded

  // Format v2: the cache methods exist and answer a short probe, padded and not.
  void probeCacheMethods(const ModelConfig& config, at::ScalarType dtype);
};

// Parses "cpu" / "cuda" (GPU 0) / "cuda:N"; CUDA_UNAVAILABLE (saying why) when this build or
// machine has no CUDA, or no GPU N (naming how many there are).
c10::Device resolveDevice(const std::string& name);

// Makes `device` the calling thread's current CUDA device (nothing for the CPU). A model's worker
// calls it once before loading: every later job of that thread (its stream, graphs, allocations,
// kernel launches) then runs on the model's GPU.
void useDeviceOnThisThread(const c10::Device& device);

}  // namespace localleap
