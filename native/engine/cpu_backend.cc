#include "cpu_backend.h"

#include <optional>

#include "kv_cache.h"
#include "model_call.h"
#include "rule_cpu.h"

namespace localleap {
namespace {

class CpuBackend : public StepBackend {
 public:
  CpuBackend(torch::jit::Module& module, const ModelConfig& config, at::ScalarType cacheDtype)
      : module_(module),
        vocab_(config.vocabSize),
        shifted_(config.logitsShifted),
        cacheSpec_(config.cache),
        cacheDtype_(cacheDtype),
        filter_(config.learnedFilter) {}

  void run(StepPlan& plan) override {
    const int B = plan.batch, K = plan.logitsCount, stride = plan.blockStride;
    at::Tensor logits;
    const char* method;
    if (plan.kind == StepKind::kCached) {
      logits = kvCall(plan.padded).step(plan.canvas, plan.window, at::arange(K, at::kLong), plan.leftPad, *plan.kv);
      method = "cache_step";
    } else {
      // Shifted models (Dream) predict column i from the output at i - 1.
      const int64_t first = plan.logitsBegin - (shifted_ ? 1 : 0);
      at::Tensor positions = at::arange(first, first + K, at::kLong);
      if (plan.cache != CacheMode::kNone) {
        logits = kvCall(plan.padded).full(plan.canvas, positions, plan.leftPad, *plan.kv);
        method = "cache_full";
      } else {
        logits = blockCall(plan.padded)(plan.canvas, positions, plan.leftPad);
        method = plan.padded ? "logits_at_padded" : "logits_at";
      }
    }
    checkLogits(logits, B, K, vocab_, method, c10::Device(c10::kCPU));
    at::Tensor upcast = logits.to(at::kFloat).contiguous();
    const size_t cells = (size_t)B * stride;
    conf_.assign(cells, 0.0f);
    token_.assign(cells, -1);
    plan.remaining.assign(B, 0);
    plan.committed.assign(cells, -1);
    plan.blockLengthOut.assign(B, 0);
    stepsOut_.assign(B, 0);
    StepState st{plan.seeds.data(), plan.steps.data(), plan.blockSteps.data(), plan.blockMasks0.data(), conf_.data(),
                 token_.data(), nullptr, plan.remaining.data(), stepsOut_.data(), plan.endFound.data(),
                 plan.committed.data(), plan.blockLengthOut.data(), filter_.hostView()};
    applyRuleCpu(upcast.data_ptr<float>(), B, K, stride, vocab_, plan.canvas.data_ptr<int64_t>(), plan.params.data(),
                 st);
  }

  at::Tensor allocateCache(int batch, int length) override {
    return allocateKvCache(cacheSpec_, cacheDtype_, batch, length, c10::Device(c10::kCPU));
  }

 private:
  BlockLogitsCall& blockCall(bool padded) {
    auto& slot = padded ? padded_ : plain_;
    if (!slot) slot.emplace(module_, padded);
    return *slot;
  }
  KvCacheCall& kvCall(bool padded) {
    auto& slot = padded ? kvPadded_ : kvPlain_;
    if (!slot) slot.emplace(module_, padded);
    return *slot;
  }

  torch::jit::Module& module_;
  int vocab_;
  bool shifted_;
  CacheSpec cacheSpec_;
  at::ScalarType cacheDtype_;
  LearnedFilter filter_;  // the model's own copy: the rule reads it through StepState.filter
  std::vector<int32_t> token_, stepsOut_;
  std::vector<float> conf_;
  std::optional<BlockLogitsCall> plain_, padded_;
  std::optional<KvCacheCall> kvPlain_, kvPadded_;
};

}  // namespace

std::unique_ptr<StepBackend> makeCpuBackend(torch::jit::Module& module, const ModelConfig& config,
                                            at::ScalarType cacheDtype) {
  return std::make_unique<CpuBackend>(module, config, cacheDtype);
}

}  // namespace localleap
