#include "model_call.h"

#include <sstream>

#include "errors.h"

namespace localleap {

BlockLogitsCall::BlockLogitsCall(torch::jit::Module& module, bool padded)
    : method_(module.get_method(padded ? "logits_at_padded" : "logits_at")), padded_(padded) {}

at::Tensor BlockLogitsCall::operator()(const at::Tensor& ids, const at::Tensor& positions,
                                       const at::Tensor& leftPad) {
  if (padded_) return method_({ids, positions, leftPad}).toTensor();
  return method_({ids, positions}).toTensor();
}

void checkLogits(const at::Tensor& logits, int64_t batch, int64_t count, int64_t vocab, const char* method) {
  const auto type = logits.scalar_type();
  const bool floatType = type == at::kFloat || type == at::kBFloat16 || type == at::kHalf;
  if (logits.dim() == 3 && logits.size(0) == batch && logits.size(1) == count && logits.size(2) == vocab &&
      floatType) {
    return;
  }
  std::ostringstream msg;
  msg << "model method " << method << " returned " << logits.sizes() << " " << logits.scalar_type()
      << ", expected [" << batch << ", " << count << ", " << vocab
      << "] float32/bfloat16/float16 logits (vocabSize from localleap.json). The metadata does not match the "
         "network: re-export the model.";
  throw EngineError(ErrorCode::kModelProbeFailed, msg.str());
}

}  // namespace localleap
