#include "cuda_backend.h"

#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <cuda_runtime.h>
#include <torch/version.h>

#include <algorithm>
#include <cstdlib>
#include <map>
#include <optional>
#include <tuple>

#include "cuda_buffers.h"
#include "errors.h"
#include "kv_cache.h"
#include "model_call.h"

namespace localleap {
namespace {

constexpr size_t kMaxCachedShapes = 8;  // buckets: each keeps its captured graphs and their memory pool

void checkCuda(cudaError_t status, const char* what) {
  if (status != cudaSuccess) {
    throw EngineError(ErrorCode::kInternal, std::string(what) + ": " + cudaGetErrorString(status));
  }
}

// NOT YET COMPILED against libtorch CUDA nor run (issue 13 was written on a machine without a GPU):
// the next session builds the CUDA variant and runs test/gpu (docs/scheduler.md lists the steps).
//
// Runs the scheduler's StepPlans: each plan is padded to a bucket (rows to a power of two, width to
// a multiple of 64 columns, the logits range to a multiple of the block stride), whose device
// buffers persist, so a captured graph per (bucket, step kind, window, KV tensor, sampling) can be
// replayed as the batch changes. Inputs are copied to the bucket's buffers before each step and
// the canvas and counters copied back after it (a few KB), so graphs read fresh values in place.
constexpr int kWidthQuantum = 64;

int nextPowerOfTwo(int n) {
  int p = 1;
  while (p < n) p <<= 1;
  return p;
}

class CudaBackend : public StepBackend {
 public:
  CudaBackend(torch::jit::Module& module, const ModelConfig& config, at::ScalarType cacheDtype, c10::Device device)
      : module_(module),
        vocab_(config.vocabSize),
        shifted_(config.logitsShifted),
        maxLength_(config.maxLength),
        eosId_(config.eosId),
        maskId_(config.maskId),
        padId_(config.padId),
        cacheSpec_(config.cache),
        cacheDtype_(cacheDtype),
        device_(device),
        rawStream_(createStream()),
        stream_(c10::cuda::getStreamFromExternal(rawStream_, device.index())) {
    uploadFilter(config.learnedFilter);
  }

  ~CudaBackend() override {
    cudaStreamSynchronize(rawStream_);
    cache_.clear();
    kvPool_.clear();
    cudaStreamDestroy(rawStream_);
  }

  // APD: the shared runner on this model's stream (the call's rows' batched forwards on the GPU,
  // without CUDA graphs; the accept rule on the host over the logits it copies back,
  // docs/decoding.md "APD", "Batched rows").
  void runApd(const std::vector<ApdRowState*>& rows, const ApdStepParams& params) override {
    c10::cuda::CUDAStreamGuard guard(stream_);
    StepBackend::runApd(rows, params);
  }

  // A step that runs out of device memory gives every bucket's buffers and graphs back (they are
  // only a speed-up, and each shape's graphs keep a memory pool of their own: a long run over many
  // shapes fills the device with them) and runs once more before the error reaches the call.
  void run(StepPlan& plan) override {
    try {
      runOnce(plan);
      return;
    } catch (const c10::OutOfMemoryError&) {
    } catch (const EngineError& e) {
      if (e.code() != ErrorCode::kOutOfMemory) throw;
    }
    releaseBuckets();
    runOnce(plan);
  }

 private:
  void runOnce(StepPlan& plan) {
    c10::cuda::CUDAStreamGuard guard(stream_);
    const int B = plan.batch, W = plan.width, stride = plan.blockStride;
    // ---- the bucket ----
    // A lockstep group with a cache keeps its shape for its whole life (and its KV tensor has
    // exactly its rows and columns): no padding. Free rows are padded to the bucket.
    const bool bucketed = plan.cache == CacheMode::kNone && bucketing_;
    const int Bb = bucketed ? nextPowerOfTwo(B) : B;
    int Wb = bucketed ? (W + kWidthQuantum - 1) / kWidthQuantum * kWidthQuantum : W;
    if (Wb > maxLength_) Wb = std::max(W, maxLength_);  // never wider than the model allows
    const int dW = Wb - W;  // extra left padding of every row
    const int shift = shifted_ ? 1 : 0;
    int begin = plan.logitsBegin + dW, K = plan.logitsCount;
    if (plan.kind == StepKind::kFull && bucketed) {
      int Kb = (K + stride - 1) / stride * stride;
      const int end = begin + K;
      int first = end - Kb;                          // widen the range to the left
      if (first - shift < 0) first = shift;           // (rare) no room: a range of its own length
      begin = first;
      K = end - first;
    }
    const bool padded = plan.padded || dW > 0;
    const bool sampling = std::any_of(plan.params.begin(), plan.params.end(),
                                      [](const RuleParams& p) { return p.temperature > 0.0f; });
    BucketShape shape{Bb, Wb, stride, K, padded, plan.cache};
    ShapeBuffers& b = buffersFor(shape);
    b.lastUse = ++useCounter_;

    // ---- host staging: padded canvas, leftPad, params, counters ----
    at::Tensor canvas = at::full({Bb, Wb}, (int64_t)padId_, at::kLong);
    at::Tensor leftPad = at::zeros({Bb}, at::kLong);
    std::vector<RuleParams> params(Bb);
    at::Tensor seeds = at::zeros({Bb}, at::kLong);
    at::Tensor counters = at::zeros({4, Bb}, at::kInt);  // steps, blockSteps, blockMasks0, endFound
    const int64_t* src = plan.canvas.data_ptr<int64_t>();
    int64_t* dst = canvas.data_ptr<int64_t>();
    for (int r = 0; r < Bb; ++r) {
      const int from = r < B ? r : 0;  // a padding row copies row 0's layout, without masks
      std::copy(src + (int64_t)from * W, src + (int64_t)(from + 1) * W, dst + (int64_t)r * Wb + dW);
      if (r >= B) {
        for (int64_t i = (int64_t)r * Wb; i < (int64_t)(r + 1) * Wb; ++i) {
          if (dst[i] == maskId_) dst[i] = eosId_;
        }
      }
      leftPad[r] = plan.leftPad[from].item<int64_t>() + dW;
      RuleParams p = plan.params[from];
      p.canvasLength = Wb;
      p.genStart += dW;
      p.blockStart += dW;
      p.logitsOffset = plan.kind == StepKind::kFull ? p.blockStart - begin : 0;
      params[r] = p;
      if (r < B) {
        seeds[r] = (int64_t)plan.seeds[r];
        counters[0][r] = plan.steps[r];
        counters[1][r] = plan.blockSteps[r];
        counters[2][r] = plan.blockMasks0[r];
        counters[3][r] = plan.endFound[r];
      }
    }
    b.canvas.copy_(canvas);
    b.leftPad.copy_(leftPad);
    b.seeds.copy_(seeds);
    b.steps.copy_(counters[0]);
    b.blockSteps.copy_(counters[1]);
    b.blockMasks0.copy_(counters[2]);
    b.endFound.copy_(counters[3]);
    // Pageable source: staged before cudaMemcpyAsync returns, so `params` may go out of scope.
    checkCuda(cudaMemcpyAsync(b.params.data_ptr(), params.data(), sizeof(RuleParams) * Bb, cudaMemcpyHostToDevice,
                              stream_),
              "copying rule parameters");
    at::Tensor window;
    if (plan.kind == StepKind::kCached) {
      at::Tensor shiftedWindow = plan.window + dW;
      auto it = b.windows.find(shiftedWindow.size(0));
      if (it == b.windows.end()) {
        it = b.windows.emplace(shiftedWindow.size(0), at::empty({shiftedWindow.size(0)}, b.canvas.options())).first;
      }
      it->second.copy_(shiftedWindow);
      window = it->second;
    } else {
      b.positions.copy_(at::arange(begin - shift, begin - shift + K, at::kLong));
    }

    // ---- the step: replay, capture, or eager ----
    at::Tensor* kv = plan.kv;
    const ShapeBuffers::GraphKey key{(int)plan.kind, window.defined() ? window.size(0) : 0,
                                     kv ? kv->data_ptr() : nullptr, sampling};
    auto captured = b.graphs.find(key);
    if (plan.cudaGraph && captured != b.graphs.end()) {
      captured->second.graph->replay();
      plan.usedCudaGraph = true;
    } else if (plan.cudaGraph && !b.captureFailed && b.eagerRuns[key] > 0) {
      plan.usedCudaGraph = captureAndReplay(b, key, plan.kind, window, kv, sampling);
    } else {
      eagerStep(b, plan.kind, window, kv, sampling);
      ++b.eagerRuns[key];
    }
    if (plan.cudaGraph && b.captureFailed) plan.cudaGraphFallbackReason = b.captureFailure;

    // ---- results back to the plan ----
    checkCuda(cudaStreamSynchronize(rawStream_), "running a decoding step");
    at::Tensor after = b.canvas.to(at::kCPU);
    at::Tensor back = at::stack({b.steps, b.blockSteps, b.blockMasks0, b.endFound}).to(at::kCPU);
    const int64_t* a = after.data_ptr<int64_t>();
    int64_t* out = plan.canvas.data_ptr<int64_t>();
    plan.remaining.assign(B, 0);
    plan.committed.assign((size_t)B * stride, -1);
    plan.blockLengthOut.assign(B, 0);
    for (int r = 0; r < B; ++r) {
      std::copy(a + (int64_t)r * Wb + dW, a + (int64_t)(r + 1) * Wb, out + (int64_t)r * W);
      plan.steps[r] = back[0][r].item<int32_t>();
      plan.blockSteps[r] = back[1][r].item<int32_t>();
      plan.blockMasks0[r] = back[2][r].item<int32_t>();
      plan.endFound[r] = back[3][r].item<int32_t>();
      plan.remaining[r] = b.remaining.host()[r];
      plan.blockLengthOut[r] = b.blockLengthOut.host()[r];
      std::copy(b.committed.host() + (size_t)r * stride, b.committed.host() + (size_t)(r + 1) * stride,
                plan.committed.begin() + (size_t)r * stride);
    }
  }

 public:
  // Caches are pooled by shape: a tensor no call holds any more (use_count 1: only the pool) is
  // handed out again, so a graph captured against it stays valid for the next call of that shape.
  at::Tensor allocateCache(int batch, int length) override {
    c10::cuda::CUDAStreamGuard guard(stream_);
    const auto want = kvCacheShape(cacheSpec_.layers, cacheSpec_.kvHeads, cacheSpec_.headDim, batch, length);
    for (at::Tensor& t : kvPool_) {
      if (t.use_count() == 1 && t.sizes().vec() == want) {
        t.zero_();
        return t;
      }
    }
    kvPool_.erase(std::remove_if(kvPool_.begin(), kvPool_.end(), [](const at::Tensor& t) { return t.use_count() == 1; }),
                  kvPool_.end());
    at::Tensor kv;
    try {
      kv = allocateKvCache(cacheSpec_, cacheDtype_, batch, length, device_);
    } catch (const EngineError& e) {
      if (e.code() != ErrorCode::kOutOfMemory || cache_.empty()) throw;
      releaseBuckets();  // only a speed-up: give them back and try once more
      kv = allocateKvCache(cacheSpec_, cacheDtype_, batch, length, device_);
    }
    kvPool_.push_back(kv);
    return kv;
  }

 private:
  using Key = std::tuple<int, int, int, int, bool, int>;

  void releaseBuckets() {
    checkCuda(cudaStreamSynchronize(rawStream_), "finishing earlier steps");
    cache_.clear();
    c10::cuda::CUDACachingAllocator::emptyCache();
  }

  ShapeBuffers& buffersFor(const BucketShape& s) {
    Key key{s.batch, s.width, s.blockStride, s.logitsCount, s.padded, (int)s.cache};
    auto it = cache_.find(key);
    if (it != cache_.end()) return *it->second;
    if (cache_.size() >= kMaxCachedShapes) {
      auto oldest = cache_.begin();
      for (auto i = cache_.begin(); i != cache_.end(); ++i) {
        if (i->second->lastUse < oldest->second->lastUse) oldest = i;
      }
      cache_.erase(oldest);
    }
    auto made = std::make_unique<ShapeBuffers>(s, vocab_, device_);
    ShapeBuffers& ref = *made;
    cache_.emplace(key, std::move(made));
    return ref;
  }

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

  at::Tensor forward(ShapeBuffers& b, StepKind kind, const at::Tensor& window, at::Tensor* kv) {
    at::Tensor logits;
    const char* method;
    if (kind == StepKind::kCached) {
      logits = kvCall(b.shape.padded).step(b.canvas, window, b.windowPositions, b.leftPad, *kv);
      method = "cache_step";
    } else if (b.shape.cache != CacheMode::kNone) {
      logits = kvCall(b.shape.padded).full(b.canvas, b.positions, b.leftPad, *kv);
      method = "cache_full";
    } else {
      logits = blockCall(b.shape.padded)(b.canvas, b.positions, b.leftPad);
      method = b.shape.padded ? "logits_at_padded" : "logits_at";
    }
    checkLogits(logits, b.shape.batch, b.shape.logitsCount, vocab_, method, device_);
    return logits.is_contiguous() ? logits : logits.contiguous();
  }

  void eagerStep(ShapeBuffers& b, StepKind kind, const at::Tensor& window, at::Tensor* kv, bool sampling) {
    at::Tensor logits = forward(b, kind, window, kv);
    checkCuda(launchCommitStep(launchFor(b, logits, sampling), stream_), "launching the commit kernel");
  }

  // The bucket's launch with the model's learned filter (device memory for the backend's life, so
  // a captured graph may keep the pointers).
  CommitLaunch launchFor(ShapeBuffers& b, const at::Tensor& logits, bool sampling) const {
    CommitLaunch l = b.launch(logits, sampling);
    l.state.filter = filterView_;
    return l;
  }

  // The learned filter's weights go to device memory once per model: w1, b1, w2, b2 back to back.
  void uploadFilter(const LearnedFilter& f) {
    filterView_ = LearnedFilterView{nullptr, nullptr, nullptr, nullptr, 0, 0};
    if (!f.present()) return;
    std::vector<float> all;
    all.reserve(f.w1.size() + f.b1.size() + f.w2.size() + f.b2.size());
    for (const auto* v : {&f.w1, &f.b1, &f.w2, &f.b2}) all.insert(all.end(), v->begin(), v->end());
    at::Tensor host = at::from_blob(all.data(), {(int64_t)all.size()}, at::kFloat);
    filterDevice_ = host.to(device_);  // synchronous: `all` may go out of scope
    const float* base = filterDevice_.data_ptr<float>();
    filterView_.w1 = base;
    filterView_.b1 = filterView_.w1 + f.w1.size();
    filterView_.w2 = filterView_.b1 + f.b1.size();
    filterView_.b2 = filterView_.w2 + f.w2.size();
    filterView_.inputs = f.blockLength;
    filterView_.hidden = f.hidden;
  }

  // True when the step ran as the captured graph (false: capture failed, it ran eagerly).
  bool captureAndReplay(ShapeBuffers& b, const ShapeBuffers::GraphKey& key, StepKind kind, const at::Tensor& window,
                        at::Tensor* kv, bool sampling) {
    auto graph = std::make_unique<at::cuda::CUDAGraph>();
    try {
      // Thread-local mode: other models' threads may allocate while this one captures.
#if TORCH_VERSION_MAJOR >= 2
      graph->capture_begin(b.pool, cudaStreamCaptureModeThreadLocal);
#else
      graph->capture_begin(b.pool);
#endif
      try {
        at::Tensor logits = forward(b, kind, window, kv);
        checkCuda(launchCommitStep(launchFor(b, logits, sampling), stream_), "launching the commit kernel");
        graph->capture_end();
        b.graphs[key] = CapturedStep{std::move(graph), logits};
      } catch (...) {
        cudaGraph_t partial = nullptr;
        cudaStreamEndCapture(stream_, &partial);  // leave capture mode whatever happened
        if (partial) cudaGraphDestroy(partial);
        cudaGetLastError();
        throw;
      }
      b.graphs[key].graph->replay();
      return true;
    } catch (const std::exception& e) {
      b.captureFailed = true;
      b.captureFailure = std::string("CUDA graph capture failed, steps run eagerly: ") + e.what();
      b.graphs.erase(key);
      eagerStep(b, kind, window, kv, sampling);
      return false;
    }
  }

  // A stream of this model's own (not libtorch's shared pool): two models never capture on one stream.
  static cudaStream_t createStream() {
    cudaStream_t s = nullptr;
    checkCuda(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking), "creating a CUDA stream");
    return s;
  }

  torch::jit::Module& module_;
  int vocab_;
  bool shifted_;
  int maxLength_;
  int64_t eosId_, maskId_, padId_;
  CacheSpec cacheSpec_;
  at::ScalarType cacheDtype_;
  c10::Device device_;
  cudaStream_t rawStream_;
  c10::cuda::CUDAStream stream_;
  at::Tensor filterDevice_;         // the learned filter's weights on the device (undefined: none)
  LearnedFilterView filterView_{};  // pointers into filterDevice_
  std::map<Key, std::unique_ptr<ShapeBuffers>> cache_;
  std::vector<at::Tensor> kvPool_;
  std::optional<BlockLogitsCall> plain_, padded_;
  std::optional<KvCacheCall> kvPlain_, kvPadded_;
  // LOCALLEAP_NO_BUCKETS=1: plans run at their exact shape (no padded rows or columns), e.g. to
  // check whether bucketing moves float32 results on a GPU (different GEMM shapes).
  bool bucketing_ = std::getenv("LOCALLEAP_NO_BUCKETS") == nullptr;
  uint64_t useCounter_ = 0;
};

}  // namespace

std::unique_ptr<StepBackend> makeCudaBackend(torch::jit::Module& module, const ModelConfig& config,
                                             at::ScalarType cacheDtype, c10::Device device) {
  return std::make_unique<CudaBackend>(module, config, cacheDtype, device);
}

}  // namespace localleap
