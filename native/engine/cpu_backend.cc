#include "cpu_backend.h"

#include <optional>

#include "model_call.h"
#include "rule_cpu.h"

namespace localleap {
namespace {

class CpuBackend : public StepBackend {
 public:
  CpuBackend(torch::jit::Module& module, int vocab, bool shifted)
      : module_(module), vocab_(vocab), shifted_(shifted) {}

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
  }

  void startBlock(int blockStart) override {
    params_.blockStart = blockStart;
    // Shifted models (Dream) predict position i from the output at i - 1.
    positions_ = at::arange(blockStart - (shifted_ ? 1 : 0), blockStart - (shifted_ ? 1 : 0) + shape_.blockLength,
                            at::kLong);
    std::fill(blockSteps_.begin(), blockSteps_.end(), 0);
  }

  void step() override {
    at::Tensor logits = (*call_)(canvas_, positions_, leftPad_);
    checkLogits(logits, shape_.batch, shape_.blockLength, vocab_, shape_.padded ? "logits_at_padded" : "logits_at",
                c10::Device(c10::kCPU));
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
    return canvas_;
  }

 private:
  torch::jit::Module& module_;
  int vocab_;
  bool shifted_;
  DecodeShape shape_;
  at::Tensor canvas_, leftPad_, positions_;
  RuleParams params_{};
  std::vector<uint64_t> seeds_;
  std::vector<int32_t> steps_, blockSteps_, blockMasks0_, remaining_, stepsOut_, endFound_, token_, committed_;
  std::vector<float> conf_;
  std::optional<BlockLogitsCall> call_;
};

}  // namespace

std::unique_ptr<StepBackend> makeCpuBackend(torch::jit::Module& module, int vocab, bool logitsShifted) {
  return std::make_unique<CpuBackend>(module, vocab, logitsShifted);
}

}  // namespace localleap
