#include "rule_case.h"

#include <torch/torch.h>

#include "errors.h"
#include "rule_cpu.h"

namespace localleap {

void checkRuleCase(const RuleCase& c) {
  const size_t cells = (size_t)c.batch * c.blockLength;
  const size_t logits = cells * (size_t)c.vocab;
  const size_t given = c.dtype == LogitsDType::kFloat32 ? c.logitsF32.size() : c.logitsBits.size();
  if (c.batch <= 0 || c.blockLength <= 0 || c.vocab <= 0) {
    throw EngineError(ErrorCode::kInvalidArgument, "batch, blockLength and vocabSize must be positive");
  }
  if (given != logits) {
    throw EngineError(ErrorCode::kInvalidArgument, "logits must hold batch * blockLength * vocabSize values");
  }
  if (c.block.size() != cells) throw EngineError(ErrorCode::kInvalidArgument, "block must hold batch * blockLength ids");
  if (c.params.size() != (size_t)c.batch) throw EngineError(ErrorCode::kInvalidArgument, "one RuleParams per row is needed");
  if (c.seeds.size() != (size_t)c.batch || c.rowSteps.size() != (size_t)c.batch) {
    throw EngineError(ErrorCode::kInvalidArgument, "seeds and rowSteps need one value per row");
  }
  for (const RuleParams& p : c.params) {
    if (p.strategy == kLearned && (!c.filter.present() || c.filter.blockLength < c.blockLength)) {
      throw EngineError(ErrorCode::kInvalidArgument, "strategy learned needs a learnedFilter of at least blockLength inputs");
    }
  }
}

RuleCaseResult runRuleCaseCpu(const RuleCase& c) {
  checkRuleCase(c);
  const size_t cells = (size_t)c.batch * c.blockLength;
  at::Tensor logits;
  if (c.dtype == LogitsDType::kFloat32) {
    logits = at::from_blob(const_cast<float*>(c.logitsF32.data()), {(int64_t)c.logitsF32.size()}, at::kFloat);
  } else {
    auto type = c.dtype == LogitsDType::kBFloat16 ? at::kBFloat16 : at::kHalf;
    // bf16 / fp16 upcast to float32 is exact, the same values the kernel converts in registers.
    logits = at::from_blob(const_cast<uint16_t*>(c.logitsBits.data()), {(int64_t)c.logitsBits.size()}, type)
                 .to(at::kFloat);
  }
  logits = logits.contiguous();
  std::vector<int64_t> canvas(c.block.begin(), c.block.end());
  std::vector<int32_t> steps(c.rowSteps), blockSteps(c.batch, 0), masks0(c.batch, 0), remaining(c.batch),
      stepsOut(c.batch), endFound(c.batch, 0), token(cells), committed(cells), blockLengths(c.batch, -1);
  std::vector<float> conf(cells);
  StepState st{c.seeds.data(), steps.data(), blockSteps.data(), masks0.data(), conf.data(), token.data(), nullptr,
               remaining.data(), stepsOut.data(), endFound.data(), committed.data(), blockLengths.data(), c.filter.hostView()};
  applyRuleCpu(logits.data_ptr<float>(), c.batch, c.blockLength, c.blockLength, c.vocab, canvas.data(), c.params.data(),
               st);

  RuleCaseResult r;
  r.tokens = token;
  r.conf = conf;
  r.commit.resize(cells);
  for (size_t i = 0; i < cells; ++i) r.commit[i] = committed[i] >= 0;
  r.block.assign(canvas.begin(), canvas.end());
  r.blockLengths = blockLengths;
  return r;
}

}  // namespace localleap
