// Device and host-mapped buffers of one decode shape, reused by every generation of that shape
// (a captured graph keeps pointing at them).
#pragma once
#include <ATen/cuda/CUDAGraph.h>
#include <torch/script.h>

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

struct ShapeBuffers {
  ShapeBuffers(const DecodeShape& shape, int vocab, c10::Device device);

  DecodeShape shape;
  at::Tensor canvas, positions, leftPad;                  // int64
  at::Tensor params;                                      // RuleParams bytes
  at::Tensor seeds;                                       // int64 (uint64 bits)
  at::Tensor steps, blockSteps, blockMasks0, token;       // int32
  at::Tensor conf;                                        // float32
  at::Tensor arrivals, positionArrivals;                  // int32 used as uint32 counters
  at::Tensor chunks;                                      // ChunkResult scratch bytes
  MappedInts remaining, stepsOut, endFound, committed;

  std::unique_ptr<at::cuda::CUDAGraph> graph;
  at::Tensor graphLogits;                                 // output of the captured forward
  bool captureFailed = false;
  std::string captureFailure;
  uint64_t lastUse = 0;

  StepState stepState() const;
  CommitLaunch launch(const at::Tensor& logits, bool sampling) const;
};

}  // namespace localleap
