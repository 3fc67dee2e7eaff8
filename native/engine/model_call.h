// Calls into the TorchScript model: the block-logits methods of docs/model-format.md.
#pragma once
#include <torch/script.h>

#include <string>

namespace localleap {

class BlockLogitsCall {
 public:
  BlockLogitsCall(torch::jit::Module& module, bool padded);
  // logits [B, K, V] of the outputs at `positions` (int64 [K]).
  at::Tensor operator()(const at::Tensor& ids, const at::Tensor& positions, const at::Tensor& leftPad);

 private:
  torch::jit::Method method_;
  bool padded_;
};

// Throws MODEL_PROBE_FAILED unless logits are [batch, count, vocab] of a float dtype.
void checkLogits(const at::Tensor& logits, int64_t batch, int64_t count, int64_t vocab, const char* method);

}  // namespace localleap
