#include "model_call.h"

#include <sstream>

#include "errors.h"

namespace localleap {
namespace {

[[noreturn]] void badOutput(const std::string& message) {
  throw EngineError(ErrorCode::kModelProbeFailed,
                    message + ". The archive does not follow docs/model-format.md: re-export the model.");
}

// The highest element a strided view reaches must lie inside its storage.
bool insideStorage(const at::Tensor& t) {
  if (!t.has_storage()) return false;
  if (t.numel() == 0) return true;
  uint64_t last = (uint64_t)t.storage_offset();
  for (int64_t d = 0; d < t.dim(); ++d) {
    if (t.stride(d) < 0) return false;
    last += (uint64_t)(t.size(d) - 1) * (uint64_t)t.stride(d);
  }
  return (last + 1) * (uint64_t)t.element_size() <= (uint64_t)t.storage().nbytes();
}

// The line of a (multi-line TorchScript) error message that names an allocation failure, "" if none:
// CUDA's caching allocator and the CPU allocator word it differently.
std::string outOfMemoryLine(const std::string& message) {
  std::istringstream in(message);
  std::string line;
  while (std::getline(in, line)) {
    if (line.find("out of memory") != std::string::npos || line.find("can't allocate memory") != std::string::npos) {
      const size_t first = line.find_first_not_of(" \t");
      return first == std::string::npos ? line : line.substr(first);
    }
  }
  return "";
}

}  // namespace

c10::IValue invokeMethod(torch::jit::Method& method, std::vector<c10::IValue> args);

at::Tensor callModelMethod(torch::jit::Method& method, const std::vector<at::Tensor>& inputs) {
  std::vector<c10::IValue> args;
  for (const at::Tensor& t : inputs) args.emplace_back(t.clone());
  c10::IValue out = invokeMethod(method, std::move(args));
  if (!out.isTensor()) badOutput("model method " + method.name() + " returned a " + out.tagKind() + ", not a tensor");
  return out.toTensor();
}

// Runs the method, turning what it raises into MODEL_PROBE_FAILED (out of memory stays itself).
c10::IValue invokeMethod(torch::jit::Method& method, std::vector<c10::IValue> args) {
  c10::IValue out;
  try {
    out = method(std::move(args));
  } catch (const c10::OutOfMemoryError&) {
    throw;
  } catch (const EngineError&) {
    throw;
  } catch (const std::bad_alloc&) {
    throw;
  } catch (const c10::Error& e) {
    // TorchScript re-raises an allocation failure inside the method as a plain error: keep it
    // OUT_OF_MEMORY (the caller can free memory and retry), not a malformed archive.
    const std::string oom = outOfMemoryLine(e.what_without_backtrace());
    if (!oom.empty()) {
      throw EngineError(ErrorCode::kOutOfMemory, "model method " + method.name() + " ran out of memory (" + oom +
                                                     "). Use a shorter genLength or prompt, a smaller batch, or free memory.");
    }
    badOutput("model method " + method.name() + " raised: " + e.what_without_backtrace());
  } catch (const std::exception& e) {
    badOutput("model method " + method.name() + " raised: " + e.what());
  }
  return out;
}

std::vector<int64_t> kvCacheShape(int layers, int kvHeads, int headDim, int64_t batch, int64_t length) {
  return {layers, 2, batch, kvHeads, length, headDim};
}

KvCacheCall::KvCacheCall(torch::jit::Module& module, bool padded)
    : full_(module.get_method("cache_full")), step_(module.get_method("cache_step")), padded_(padded) {}

at::Tensor KvCacheCall::full(const at::Tensor& ids, const at::Tensor& positions, const at::Tensor& leftPad,
                             at::Tensor& kv) {
  return call(full_, {ids.clone(), positions.clone(), padded_ ? c10::IValue(leftPad.clone()) : c10::IValue(), kv}, kv);
}

at::Tensor KvCacheCall::step(const at::Tensor& ids, const at::Tensor& window, const at::Tensor& positions,
                             const at::Tensor& leftPad, at::Tensor& kv) {
  return call(step_,
              {ids.clone(), window.clone(), positions.clone(), padded_ ? c10::IValue(leftPad.clone()) : c10::IValue(), kv},
              kv);
}

at::Tensor KvCacheCall::call(torch::jit::Method& method, std::vector<c10::IValue> args, at::Tensor& kv) {
  const void* data = kv.data_ptr();
  const auto sizes = kv.sizes().vec();
  const auto strides = kv.strides().vec();
  const auto bytes = kv.storage().nbytes();
  c10::IValue out = invokeMethod(method, std::move(args));
  // The cache is the engine's memory (a captured graph points at it): it must stay where it was.
  if (kv.data_ptr() != data || kv.sizes().vec() != sizes || kv.strides().vec() != strides ||
      kv.storage().nbytes() != bytes) {
    badOutput("model method " + method.name() + " resized or re-pointed the KV cache tensor");
  }
  if (!out.isTensor()) badOutput("model method " + method.name() + " returned a " + out.tagKind() + ", not a tensor");
  return out.toTensor();
}

BlockLogitsCall::BlockLogitsCall(torch::jit::Module& module, bool padded)
    : method_(module.get_method(padded ? "logits_at_padded" : "logits_at")), padded_(padded) {}

at::Tensor BlockLogitsCall::operator()(const at::Tensor& ids, const at::Tensor& positions,
                                       const at::Tensor& leftPad) {
  if (padded_) return callModelMethod(method_, {ids, positions, leftPad});
  return callModelMethod(method_, {ids, positions});
}

void checkLogits(const at::Tensor& logits, int64_t batch, int64_t count, int64_t vocab, const char* method,
                 const c10::Device& device) {
  if (!logits.defined() || logits.layout() != at::kStrided || logits.is_quantized()) {
    badOutput(std::string("model method ") + method + " returned a tensor that is not a dense strided tensor");
  }
  const auto type = logits.scalar_type();
  const bool floatType = type == at::kFloat || type == at::kBFloat16 || type == at::kHalf;
  const bool shapeOk = logits.dim() == 3 && logits.size(0) == batch && logits.size(1) == count && logits.size(2) == vocab;
  if (!(shapeOk && floatType)) {
    std::ostringstream msg;
    msg << "model method " << method << " returned " << logits.sizes() << " " << logits.scalar_type()
        << ", expected [" << batch << ", " << count << ", " << vocab
        << "] float32/bfloat16/float16 logits (vocabSize from localleap.json): the metadata does not match the network";
    badOutput(msg.str());
  }
  if (logits.device().type() != device.type()) {
    badOutput(std::string("model method ") + method + " returned logits on " + logits.device().str() +
              ", expected them on " + device.str());
  }
  if (!insideStorage(logits)) {
    badOutput(std::string("model method ") + method + " returned logits whose sizes and strides reach outside their storage");
  }
}

}  // namespace localleap
