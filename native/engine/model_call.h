// Calls into the TorchScript model: the block-logits methods of docs/model-format.md.
// The model gets copies of the engine's tensors (it may write to, resize or re-point its
// arguments), and what it returns is checked before anything reads it.
#pragma once
#include <torch/script.h>

#include <string>

namespace localleap {

class BlockLogitsCall {
 public:
  BlockLogitsCall(torch::jit::Module& module, bool padded);
  // logits [B, K, V] of the outputs at `positions` (int64 [K]); not yet checked (checkLogits).
  // A method that raises gives MODEL_PROBE_FAILED, out of memory stays OUT_OF_MEMORY.
  at::Tensor operator()(const at::Tensor& ids, const at::Tensor& positions, const at::Tensor& leftPad);

 private:
  torch::jit::Method method_;
  bool padded_;
};

// The format-v2 cache methods (cache_full, cache_step). The cache tensor itself is passed (the
// model writes it in place); after each call it must still be the engine's tensor (same storage,
// sizes and strides), else MODEL_PROBE_FAILED.
class KvCacheCall {
 public:
  KvCacheCall(torch::jit::Module& module, bool padded);
  // logits [B, K, V] at `positions` of the whole canvas; stores every position's keys/values.
  at::Tensor full(const at::Tensor& ids, const at::Tensor& positions, const at::Tensor& leftPad, at::Tensor& kv);
  // logits [B, K, V] at window[positions], running only the canvas positions `window`.
  at::Tensor step(const at::Tensor& ids, const at::Tensor& window, const at::Tensor& positions,
                  const at::Tensor& leftPad, at::Tensor& kv);

 private:
  at::Tensor call(torch::jit::Method& method, std::vector<c10::IValue> args, at::Tensor& kv);
  torch::jit::Method full_, step_;
  bool padded_;
};

// The cache tensor's shape for `batch` rows of `length` positions: [layers, 2, B, kvHeads, L, headDim].
std::vector<int64_t> kvCacheShape(int layers, int kvHeads, int headDim, int64_t batch, int64_t length);

// Calls `method` with copies of `inputs` and returns its tensor result (MODEL_PROBE_FAILED when it
// raises or returns something else).
at::Tensor callModelMethod(torch::jit::Method& method, const std::vector<at::Tensor>& inputs);

// Throws MODEL_PROBE_FAILED unless logits are a dense [batch, count, vocab] tensor of a float
// dtype on `device` whose sizes and strides stay inside its storage.
void checkLogits(const at::Tensor& logits, int64_t batch, int64_t count, int64_t vocab, const char* method,
                 const c10::Device& device);

}  // namespace localleap
