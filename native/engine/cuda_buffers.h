// Device and host-mapped buffers of one plan bucket (docs/scheduler.md "CUDA graphs: buckets"),
// reused by every step whose plan pads to that bucket (a captured graph keeps pointing at them).
// NOT YET COMPILED against libtorch CUDA (issue 13, written without a GPU): the next session builds
// and validates it.
#pragma once
#include <ATen/cuda/CUDAGraph.h>
#include <torch/script.h>

#include <map>
#include <tuple>
#include <memory>
#include <string>

#include "../kernels/commit_kernel.h"
#include "step_backend.h"

namespace localleap {

// Pinned host memory the GPU writes directly (the step's status): no copy before the host reads it.
class MappedInts {
 public:
  explicit MappedInts(size_t count);
  ~MappedInts();
  MappedInts(const MappedInts&) = delete;
  MappedInts& operator=(const MappedInts&) = delete;
  int32_t* host() const { return data_; }
  int32_t* device() const { return device_; }

 private:
  int32_t* data_ = nullptr;
  int32_t* device_ = nullptr;
};

// One captured step: the graph and the logits tensor its forward wrote (kept alive with it).
struct CapturedStep {
  std::unique_ptr<at::cuda::CUDAGraph> graph;
  at::Tensor logits;
};

// The padded shape of a plan: rows (a power of two), canvas width (a multiple of 64), the block
// stride, the logits count, the method variant (padded) and the cache mode.
struct BucketShape {
  int batch = 0;
  int width = 0;
  int blockStride = 0;
  int logitsCount = 0;
  bool padded = false;
  CacheMode cache = CacheMode::kNone;
};

struct ShapeBuffers {
  ShapeBuffers(const BucketShape& shape, int vocab, c10::Device device);

  BucketShape shape;
  at::Tensor canvas, positions, leftPad;                  // int64
  at::Tensor params;                                      // RuleParams bytes, one per row
  at::Tensor seeds;                                       // int64 (uint64 bits)
  at::Tensor steps, blockSteps, blockMasks0, endFound, token;  // int32
  at::Tensor conf;                                        // float32
  at::Tensor arrivals, positionArrivals;                  // int32 used as uint32 counters
  at::Tensor chunks;                                      // ChunkResult scratch bytes
  MappedInts remaining, stepsOut, committed, blockLengthOut;

  std::map<int64_t, at::Tensor> windows;                  // cached-step windows by length
  at::Tensor windowPositions;                             // int64 arange(logitsCount)

  // Graphs by (step kind, window length, KV tensor, sampling): a graph bakes in the cache's
  // address and the kernel variant. A key's first use runs eagerly (warm-up), its second is captured.
  using GraphKey = std::tuple<int, int64_t, const void*, bool>;
  std::map<GraphKey, CapturedStep> graphs;
  std::map<GraphKey, int> eagerRuns;
  decltype(at::cuda::graph_pool_handle()) pool;           // shared by this shape's graphs (they never overlap)
  bool captureFailed = false;
  std::string captureFailure;
  uint64_t lastUse = 0;

  StepState stepState() const;
  CommitLaunch launch(const at::Tensor& logits, bool sampling) const;
};

}  // namespace localleap
