#include "cuda_backend.h"

#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <cuda_runtime.h>
#include <torch/version.h>

#include <map>
#include <optional>
#include <tuple>

#include "cuda_buffers.h"
#include "errors.h"
#include "kv_cache.h"
#include "model_call.h"

namespace localleap {
namespace {

constexpr size_t kMaxCachedShapes = 4;  // each keeps a captured graph and its memory pool

void checkCuda(cudaError_t status, const char* what) {
  if (status != cudaSuccess) {
    throw EngineError(ErrorCode::kInternal, std::string(what) + ": " + cudaGetErrorString(status));
  }
}

class CudaBackend : public StepBackend {
 public:
  CudaBackend(torch::jit::Module& module, const ModelConfig& config, at::ScalarType cacheDtype, c10::Device device)
      : module_(module),
        vocab_(config.vocabSize),
        shifted_(config.logitsShifted),
        cacheSpec_(config.cache),
        cacheDtype_(cacheDtype),
        device_(device),
        rawStream_(createStream()),
        stream_(c10::cuda::getStreamFromExternal(rawStream_, device.index())) {}

  ~CudaBackend() override {
    cudaStreamSynchronize(rawStream_);
    cache_.clear();
    cudaStreamDestroy(rawStream_);
  }

  void start(const DecodeShape& shape, const at::Tensor& canvas, const at::Tensor& leftPad, const RuleParams& params,
             const std::vector<uint64_t>& seeds, bool cudaGraph) override {
    c10::cuda::CUDAStreamGuard guard(stream_);
    buffers_ = &buffersFor(shape, params.temperature > 0.0f);
    useGraph_ = cudaGraph;
    stepIndex_ = 0;
    params_ = params;
    call_.emplace(module_, shape.padded);
    kvCall_.reset();
    if (shape.cache != CacheMode::kNone) kvCall_.emplace(module_, shape.padded);
    ShapeBuffers& b = *buffers_;
    b.canvas.copy_(canvas);
    b.leftPad.copy_(leftPad);
    at::Tensor seedBits = at::empty({(int64_t)seeds.size()}, at::kLong);
    std::memcpy(seedBits.data_ptr<int64_t>(), seeds.data(), seeds.size() * sizeof(uint64_t));
    b.seeds.copy_(seedBits);
    b.steps.zero_();
    b.blockMasks0.zero_();
    std::fill(b.endFound.host(), b.endFound.host() + shape.batch, 0);
    std::fill(b.remaining.host(), b.remaining.host() + shape.batch, 0);
  }

  void startBlock(int blockStart) override {
    c10::cuda::CUDAStreamGuard guard(stream_);
    ShapeBuffers& b = *buffers_;
    params_.blockStart = blockStart;
    // Pageable source: the copy is staged before cudaMemcpyAsync returns, so params_ may change after.
    checkCuda(cudaMemcpyAsync(b.params.data_ptr(), &params_, sizeof(RuleParams), cudaMemcpyHostToDevice, stream_),
              "copying rule parameters");
    const int64_t first = blockStart - (shifted_ ? 1 : 0);  // Dream: position i from output i - 1
    b.positions.copy_(at::arange(first, first + b.shape.blockLength, at::kLong));
    if (b.shape.cache != CacheMode::kNone) {
      at::Tensor window = cachedWindow(b.shape.cache, blockStart, b.shape.blockLength, b.shape.canvasLength, shifted_,
                                       at::TensorOptions());
      auto it = b.windows.find(window.size(0));
      if (it == b.windows.end()) {
        it = b.windows.emplace(window.size(0), at::empty({window.size(0)}, b.canvas.options())).first;
      }
      it->second.copy_(window);
      window_ = it->second;
    }
    b.blockSteps.zero_();
  }

  void step(StepKind kind) override {
    c10::cuda::CUDAStreamGuard guard(stream_);
    ShapeBuffers& b = *buffers_;
    b.lastUse = ++useCounter_;
    kind_ = kind;
    const int64_t key = kind == StepKind::kFull ? 0 : window_.size(0);
    auto captured = b.graphs.find(key);
    if (useGraph_ && captured != b.graphs.end()) {
      captured->second.graph->replay();
    } else if (useGraph_ && !b.captureFailed && b.eagerRuns[key] > 0) {
      captureAndReplay(b, key);  // this step ran eagerly before: libraries and allocator are warm
    } else {
      eagerStep(b);
      ++b.eagerRuns[key];
    }
    ++stepIndex_;
  }

  StepStatus wait() override {
    checkCuda(cudaStreamSynchronize(stream_), "running a decoding step");
    const ShapeBuffers& b = *buffers_;
    return StepStatus{b.remaining.host(), b.stepsOut.host(), b.endFound.host(), b.committed.host()};
  }

  void fillFrom(int row, int from, int64_t token) override {
    c10::cuda::CUDAStreamGuard guard(stream_);
    buffers_->canvas[row].slice(0, from).fill_(token);
  }

  at::Tensor finish() override {
    c10::cuda::CUDAStreamGuard guard(stream_);
    at::Tensor host = buffers_->canvas.to(at::kCPU);
    call_.reset();
    kvCall_.reset();
    return host;
  }

  bool usedCudaGraph() const override { return useGraph_ && buffers_ && !buffers_->graphs.empty(); }

  std::string cudaGraphFallbackReason() const override {
    if (!useGraph_ || !buffers_) return "";
    return buffers_->captureFailed ? buffers_->captureFailure : "";
  }

 private:
  // A captured graph bakes in the kernel variant (greedy or sampling) as well as the shape.
  using Key = std::tuple<int, int, int, int, bool, bool, int>;

  ShapeBuffers& buffersFor(const DecodeShape& s, bool sampling) {
    Key key{s.batch, s.canvasLength, s.genStart, s.blockLength, s.padded, sampling, (int)s.cache};
    auto it = cache_.find(key);
    if (it != cache_.end()) return *it->second;
    if (cache_.size() >= kMaxCachedShapes) {
      auto oldest = cache_.begin();
      for (auto i = cache_.begin(); i != cache_.end(); ++i) {
        if (i->second->lastUse < oldest->second->lastUse) oldest = i;
      }
      cache_.erase(oldest);
    }
    auto made = std::make_unique<ShapeBuffers>(s, vocab_, device_, kvCacheFor(s));
    ShapeBuffers& ref = *made;
    cache_.emplace(key, std::move(made));
    return ref;
  }

  // The cache of a new shape. When it does not fit, the other shapes' buffers and graphs are
  // given back first (they are only a speed-up), then it is tried once more.
  at::Tensor kvCacheFor(const DecodeShape& s) {
    if (s.cache == CacheMode::kNone) return at::Tensor();
    try {
      return allocateKvCache(cacheSpec_, cacheDtype_, s.batch, s.canvasLength, device_);
    } catch (const EngineError& e) {
      if (e.code() != ErrorCode::kOutOfMemory || cache_.empty()) throw;
    }
    checkCuda(cudaStreamSynchronize(rawStream_), "finishing earlier steps");
    buffers_ = nullptr;
    cache_.clear();
    c10::cuda::CUDACachingAllocator::emptyCache();
    return allocateKvCache(cacheSpec_, cacheDtype_, s.batch, s.canvasLength, device_);
  }

  at::Tensor forward(ShapeBuffers& b) {
    at::Tensor logits;
    const char* method;
    if (kind_ == StepKind::kCached) {
      logits = kvCall_->step(b.canvas, window_, b.windowPositions, b.leftPad, b.kv);
      method = "cache_step";
    } else if (kvCall_) {
      logits = kvCall_->full(b.canvas, b.positions, b.leftPad, b.kv);
      method = "cache_full";
    } else {
      logits = (*call_)(b.canvas, b.positions, b.leftPad);
      method = b.shape.padded ? "logits_at_padded" : "logits_at";
    }
    checkLogits(logits, b.shape.batch, b.shape.blockLength, vocab_, method, device_);
    return logits.is_contiguous() ? logits : logits.contiguous();
  }

  void eagerStep(ShapeBuffers& b) {
    at::Tensor logits = forward(b);
    checkCuda(launchCommitStep(b.launch(logits, params_.temperature > 0.0f), stream_), "launching the commit kernel");
  }

  void captureAndReplay(ShapeBuffers& b, int64_t key) {
    auto graph = std::make_unique<at::cuda::CUDAGraph>();
    try {
      // Thread-local mode: other models' threads may allocate while this one captures.
#if TORCH_VERSION_MAJOR >= 2
      graph->capture_begin(b.pool, cudaStreamCaptureModeThreadLocal);
#else
      graph->capture_begin(b.pool);
#endif
      try {
        at::Tensor logits = forward(b);
        checkCuda(launchCommitStep(b.launch(logits, params_.temperature > 0.0f), stream_), "launching the commit kernel");
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
    } catch (const std::exception& e) {
      b.captureFailed = true;
      b.captureFailure = std::string("CUDA graph capture failed, steps run eagerly: ") + e.what();
      b.graphs.erase(key);
      eagerStep(b);
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
  CacheSpec cacheSpec_;
  at::ScalarType cacheDtype_;
  c10::Device device_;
  cudaStream_t rawStream_;
  c10::cuda::CUDAStream stream_;
  std::map<Key, std::unique_ptr<ShapeBuffers>> cache_;
  ShapeBuffers* buffers_ = nullptr;
  std::optional<BlockLogitsCall> call_;
  std::optional<KvCacheCall> kvCall_;
  at::Tensor window_;  // this block's cached-step window (one of buffers_->windows)
  StepKind kind_ = StepKind::kFull;
  RuleParams params_{};
  bool useGraph_ = true;
  int stepIndex_ = 0;
  uint64_t useCounter_ = 0;
};

}  // namespace

std::unique_ptr<StepBackend> makeCudaBackend(torch::jit::Module& module, const ModelConfig& config,
                                             at::ScalarType cacheDtype, c10::Device device) {
  return std::make_unique<CudaBackend>(module, config, cacheDtype, device);
}

}  // namespace localleap
