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
        cacheDtype_(cacheDtype) {}

  void start(const DecodeShape& shape, const at::Tensor& canvas, const at::Tensor& leftPad,
             const RuleParams& params, const std::vector<uint64_t>& seeds, bool) override {
    shape_ = shape;
    canvas_ = canvas.clone();
    leftPad_ = leftPad.clone();
    params_ = params;
    seeds_ = seeds;
    const size_t rows = shape.batch, cells = (size_t)shape.batch * shape.blockLength;
    steps_.assign(rows, 0);
    blockSteps_.assign(rows, 0);
    blockMasks0_.assign(rows, 0);
    remaining_.assign(rows, 0);
    stepsOut_.assign(rows, 0);
    endFound_.assign(rows, 0);
    conf_.assign(cells, 0.0f);
    token_.assign(cells, -1);
    committed_.assign(cells, -1);
    call_.emplace(module_, shape.padded);
    kvCall_.reset();
    if (shape.cache != CacheMode::kNone) {
      kvCall_.emplace(module_, shape.padded);
      // Kept between generations of the same shape: its content is rewritten by each block's first step.
      const auto want = kvCacheShape(cacheSpec_.layers, cacheSpec_.kvHeads, cacheSpec_.headDim, shape.batch,
                                     shape.canvasLength);
      if (!kv_.defined() || kv_.sizes().vec() != want) {
        kv_ = at::Tensor();
        kv_ = allocateKvCache(cacheSpec_, cacheDtype_, shape.batch, shape.canvasLength, c10::Device(c10::kCPU));
      }
    } else {
      kv_ = at::Tensor();
    }
  }

  void startBlock(int blockStart) override {
    params_.blockStart = blockStart;
    // Shifted models (Dream) predict position i from the output at i - 1.
    positions_ = at::arange(blockStart - (shifted_ ? 1 : 0), blockStart - (shifted_ ? 1 : 0) + shape_.blockLength,
                            at::kLong);
    if (shape_.cache != CacheMode::kNone) {
      window_ = cachedWindow(shape_.cache, blockStart, shape_.blockLength, shape_.canvasLength, shifted_,
                             at::TensorOptions());
      windowPositions_ = at::arange(shape_.blockLength, at::kLong);
    }
    std::fill(blockSteps_.begin(), blockSteps_.end(), 0);
  }

  void step(StepKind kind) override {
    at::Tensor logits;
    const char* method;
    if (kind == StepKind::kCached) {
      logits = kvCall_->step(canvas_, window_, windowPositions_, leftPad_, kv_);
      method = "cache_step";
    } else if (kvCall_) {
      logits = kvCall_->full(canvas_, positions_, leftPad_, kv_);
      method = "cache_full";
    } else {
      logits = (*call_)(canvas_, positions_, leftPad_);
      method = shape_.padded ? "logits_at_padded" : "logits_at";
    }
    checkLogits(logits, shape_.batch, shape_.blockLength, vocab_, method, c10::Device(c10::kCPU));
    at::Tensor upcast = logits.to(at::kFloat).contiguous();
    StepState st{seeds_.data(), steps_.data(), blockSteps_.data(), blockMasks0_.data(), conf_.data(),
                 token_.data(), nullptr, remaining_.data(), stepsOut_.data(), endFound_.data(),
                 committed_.data()};
    applyRuleCpu(upcast.data_ptr<float>(), shape_.batch, shape_.blockLength, vocab_,
                 canvas_.data_ptr<int64_t>(), params_, st);
  }

  StepStatus wait() override {
    return StepStatus{remaining_.data(), stepsOut_.data(), endFound_.data(), committed_.data()};
  }

  void fillFrom(int row, int from, int64_t token) override { canvas_[row].slice(0, from).fill_(token); }

  at::Tensor finish() override {
    call_.reset();
    kvCall_.reset();
    return canvas_;
  }

 private:
  torch::jit::Module& module_;
  int vocab_;
  bool shifted_;
  CacheSpec cacheSpec_;
  at::ScalarType cacheDtype_;
  DecodeShape shape_;
  at::Tensor canvas_, leftPad_, positions_, window_, windowPositions_, kv_;
  RuleParams params_{};
  std::vector<uint64_t> seeds_;
  std::vector<int32_t> steps_, blockSteps_, blockMasks0_, remaining_, stepsOut_, endFound_, token_, committed_;
  std::vector<float> conf_;
  std::optional<BlockLogitsCall> call_;
  std::optional<KvCacheCall> kvCall_;
};

}  // namespace

std::unique_ptr<StepBackend> makeCpuBackend(torch::jit::Module& module, const ModelConfig& config,
                                            at::ScalarType cacheDtype) {
  return std::make_unique<CpuBackend>(module, config, cacheDtype);
}

}  // namespace localleap
