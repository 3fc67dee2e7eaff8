#include "engine_model.h"

#include <torch/cuda.h>

#include "apd_step.h"
#include "cpu_backend.h"
#include "errors.h"
#include "kv_cache.h"
#include "model_call.h"
#include "model_probe.h"
#ifdef LOCALLEAP_WITH_CUDA
#include <c10/cuda/CUDAFunctions.h>
#include <cuda_runtime_api.h>

#include "cuda_backend.h"
#endif

namespace localleap {
namespace {

const char* dtypeName(at::ScalarType t) {
  switch (t) {
    case at::kFloat: return "float32";
    case at::kBFloat16: return "bfloat16";
    case at::kHalf: return "float16";
    default: return "unknown";
  }
}

}  // namespace

// "cuda" -> 0, "cuda:N" -> N (plain decimal, below 10000), else -1.
int cudaIndexOf(const std::string& name) {
  if (name == "cuda") return 0;
  const std::string prefix = "cuda:";
  const std::string digits = name.substr(0, prefix.size()) == prefix ? name.substr(prefix.size()) : "";
  if (digits.empty() || digits.size() > 4 || (digits.size() > 1 && digits[0] == '0')) return -1;
  for (char ch : digits) {
    if (ch < '0' || ch > '9') return -1;
  }
  return std::stoi(digits);
}

c10::Device resolveDevice(const std::string& name) {
  if (name == "cpu") return c10::Device(c10::kCPU);
  const int index = cudaIndexOf(name);
  if (index < 0) throw EngineError(ErrorCode::kInvalidArgument, "device must be 'cpu', 'cuda' or 'cuda:N'");
#ifndef LOCALLEAP_WITH_CUDA
  throw EngineError(ErrorCode::kCudaUnavailable,
                    "this localleap binary is the CPU variant (built against a CPU libtorch): it cannot use "
                    "CUDA. Install a CUDA libtorch (e.g. PyTorch with CUDA) and use the linux-x64-cuda "
                    "prebuilt binary, or rebuild from source with LOCALLEAP_LIBTORCH pointing at it.");
#else
  if (!torch::cuda::is_available() || torch::cuda::device_count() == 0) {
    throw EngineError(ErrorCode::kCudaUnavailable,
                      "this localleap binary has CUDA support but libtorch sees no CUDA device (no GPU, "
                      "no driver, or CUDA_VISIBLE_DEVICES hides it). Use device 'cpu' or run on a GPU machine.");
  }
  const int count = (int)torch::cuda::device_count();
  if (index >= count) {
    throw EngineError(ErrorCode::kCudaUnavailable,
                      "device '" + name + "': libtorch sees " + std::to_string(count) + " CUDA device" +
                          (count == 1 ? " (cuda:0)" : "s (cuda:0 to cuda:" + std::to_string(count - 1) + ")") +
                          ", so there is no GPU " + std::to_string(index) + ".");
  }
  return c10::Device(c10::kCUDA, (c10::DeviceIndex)index);
#endif
}

void useDeviceOnThisThread(const c10::Device& device) {
#ifdef LOCALLEAP_WITH_CUDA
  if (device.is_cuda()) c10::cuda::set_device(device.index());
#else
  (void)device;
#endif
}

EngineModel::EngineModel(LoadedArchive archive, c10::Device device)
    : archive_(std::move(archive)), device_(device) {}

EngineModel::~EngineModel() = default;

ModelInfo EngineModel::configure(const ModelConfig& config) {
  return translateErrors("probing the model", [&] {
    if (config.vocabSize <= 0 || config.maskId < 0 || config.maskId >= config.vocabSize || config.maxLength < 2) {
      throw EngineError(ErrorCode::kModelMetadataInvalid,
                        "localleap.json: vocabSize, maskId or maxLength is out of range (docs/model-format.md)",
                        "localleap.json");
    }
    // A short probe through every method: logits must be [1, n, vocabSize]. Typed errors
    // (MODEL_PROBE_FAILED, OUT_OF_MEMORY) come from model_call.h.
    const ProbeInputs probe = makeProbeInputs(config.maxLength, config.eosId, device_);
    const int64_t n = probe.n;
    const at::Tensor &ids = probe.ids, &positions = probe.positions, &leftPad = probe.leftPad;
    torch::jit::Method forward = archive_.module.get_method("forward");
    at::Tensor full = callModelMethod(forward, {ids});
    checkLogits(full, 1, n, config.vocabSize, "forward", device_);
    checkLogits(BlockLogitsCall(archive_.module, false)(ids, positions, leftPad), 1, n, config.vocabSize,
                "logits_at", device_);
    checkLogits(BlockLogitsCall(archive_.module, true)(ids, positions, leftPad), 1, n, config.vocabSize,
                "logits_at_padded", device_);
    if (config.cache.available()) probeCacheMethods(config, full.scalar_type());
    config_ = config;
    ModelInfo info;
    info.device = device_.is_cuda() ? "cuda" : "cpu";
#ifdef LOCALLEAP_WITH_CUDA
    if (device_.is_cuda()) {
      info.gpuIndex = device_.index();
      cudaDeviceProp props{};
      if (cudaGetDeviceProperties(&props, device_.index()) == cudaSuccess) info.gpuName = props.name;
    }
#endif
    info.dtype = dtypeName(full.scalar_type());
    if (config.cache.available()) info.kvCacheBytesPerPosition = kvCacheBytesPerRow(config.cache, full.scalar_type(), 1);
    for (const auto& p : archive_.module.parameters()) info.parameterBytes += p.numel() * p.element_size();
    for (const auto& b : archive_.module.buffers()) info.parameterBytes += b.numel() * b.element_size();
    // APD's causal LM: probed here, run by the back end through the shared runner (apd_step.h).
    at::ScalarType arDtype = at::kFloat;
    if (config.ar.loaded != (ar_ != nullptr)) {
      throw EngineError(ErrorCode::kInternal, "the causal LM's config and archive disagree: this is a bug");
    }
    if (ar_) arDtype = probeCausalArchive(ar_->module, config.ar, device_);
#ifdef LOCALLEAP_WITH_CUDA
    if (device_.is_cuda()) {
      backend_ = makeCudaBackend(archive_.module, config, full.scalar_type(), device_);
    }
#endif
    if (!backend_) backend_ = makeCpuBackend(archive_.module, config, full.scalar_type());
    if (ar_) {
      backend_->attachApd(
          std::make_unique<ApdRunner>(archive_.module, ar_->module, config, full.scalar_type(), arDtype, device_));
    }
    return info;
  });
}

void EngineModel::probeCacheMethods(const ModelConfig& config, at::ScalarType dtype) {
  requireMethods(archive_.module, {"cache_full", "cache_step"},
                 "localleap.json says format v2 (kvCache) but the archive has no method ",
                 " (docs/model-format.md): re-export the model with tools/export.py or tools/export_hf.py");
  const ProbeInputs probe = makeProbeInputs(config.maxLength, config.eosId, device_);
  const int64_t n = probe.n;
  const at::Tensor &ids = probe.ids, &positions = probe.positions, &leftPad = probe.leftPad;
  auto longOpts = at::TensorOptions().dtype(at::kLong).device(device_);
  at::Tensor window = at::arange(1, n, longOpts);
  at::Tensor windowPositions = at::arange(n - 1, longOpts);
  at::Tensor kv = allocateKvCache(config.cache, dtype, 1, n, device_);
  for (bool padded : {false, true}) {
    KvCacheCall call(archive_.module, padded);
    checkLogits(call.full(ids, positions, leftPad, kv), 1, n, config.vocabSize, "cache_full", device_);
    checkLogits(call.step(ids, window, windowPositions, leftPad, kv), 1, n - 1, config.vocabSize, "cache_step",
                device_);
  }
}

void EngineModel::drain(Scheduler& scheduler) {
  if (!backend_) {
    // Not configured (the JS side always configures first): nothing can run.
    struct Refuse : StepBackend {
      void run(StepPlan&) override { throw EngineError(ErrorCode::kInternal, "generate() before configure()"); }
      at::Tensor allocateCache(int, int) override {
        throw EngineError(ErrorCode::kInternal, "generate() before configure()");
      }
    } refuse;
    scheduler.drain(refuse, config_);
    return;
  }
  scheduler.drain(*backend_, config_);
}

}  // namespace localleap

namespace localleap {

ForwardBenchResult EngineModel::benchForward(const ForwardBenchRequest& request) {
  if (!backend_) throw EngineError(ErrorCode::kInternal, "benchForward() before configure()");
  return translateErrors("timing the forward", [&] {
    return localleap::benchForward(archive_.module, device_, config_.vocabSize, request);
  });
}

}  // namespace localleap
