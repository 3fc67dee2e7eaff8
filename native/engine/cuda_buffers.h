// Device and host-mapped buffers of one decode shape, reused by every generation of that shape
// (a captured graph keeps pointing at them).
#pragma once
#include <ATen/cuda/CUDAGraph.h>
#include <torch/script.h>

#include <map>
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

struct ShapeBuffers {
  // kv: the KV cache of this shape (undefined without a cache), allocated by the caller.
  ShapeBuffers(const DecodeShape& shape, int vocab, c10::Device device, at::Tensor kv = at::Tensor());

  DecodeShape shape;
  at::Tensor canvas, positions, leftPad;                  // int64
  at::Tensor params;                                      // RuleParams bytes
  at::Tensor seeds;                                       // int64 (uint64 bits)
  at::Tensor steps, blockSteps, blockMasks0, token;       // int32
  at::Tensor conf;                                        // float32
  at::Tensor arrivals, positionArrivals;                  // int32 used as uint32 counters
  at::Tensor chunks;                                      // ChunkResult scratch bytes
  MappedInts remaining, stepsOut, endFound, committed;

  at::Tensor kv;                                          // [layers, 2, B, kvHeads, L, headDim]
  std::map<int64_t, at::Tensor> windows;                  // cached-step windows by length
  at::Tensor windowPositions;                             // int64 arange(blockLength)

  // Graphs by step: key 0 the full step, else the cached window's length (prefix windows differ
  // per block). A key's first use runs eagerly (warm-up), its second is captured.
  std::map<int64_t, CapturedStep> graphs;
  std::map<int64_t, int> eagerRuns;
  decltype(at::cuda::graph_pool_handle()) pool;           // shared by this shape's graphs (they never overlap)
  bool captureFailed = false;
  std::string captureFailure;
  uint64_t lastUse = 0;

  StepState stepState() const;
  CommitLaunch launch(const at::Tensor& logits, bool sampling) const;
};

}  // namespace localleap
