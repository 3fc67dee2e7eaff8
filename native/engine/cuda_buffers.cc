#include "cuda_buffers.h"

#include <cuda_runtime.h>

#include "errors.h"

namespace localleap {

MappedInts::MappedInts(size_t count) {
  void* ptr = nullptr;
  if (cudaHostAlloc(&ptr, count * sizeof(int32_t), cudaHostAllocMapped) != cudaSuccess) {
    cudaGetLastError();
    throw EngineError(ErrorCode::kOutOfMemory, "could not allocate pinned host memory for the step status");
  }
  data_ = static_cast<int32_t*>(ptr);
  std::fill(data_, data_ + count, 0);
  void* dev = nullptr;
  cudaHostGetDevicePointer(&dev, ptr, 0);
  device_ = static_cast<int32_t*>(dev);
}

MappedInts::~MappedInts() {
  if (data_) cudaFreeHost(data_);
}

ShapeBuffers::ShapeBuffers(const BucketShape& s, int vocab, c10::Device device)
    : shape(s),
      remaining(s.batch),
      stepsOut(s.batch),
      committed((size_t)s.batch * s.blockStride),
      blockLengthOut(s.batch) {
  auto i64 = at::TensorOptions().dtype(at::kLong).device(device);
  auto i32 = at::TensorOptions().dtype(at::kInt).device(device);
  auto u8 = at::TensorOptions().dtype(at::kByte).device(device);
  const int64_t cells = (int64_t)s.batch * s.blockStride;
  canvas = at::zeros({s.batch, s.width}, i64);
  positions = at::zeros({s.logitsCount}, i64);
  leftPad = at::zeros({s.batch}, i64);
  params = at::zeros({(int64_t)sizeof(RuleParams) * s.batch}, u8);
  seeds = at::zeros({s.batch}, i64);
  steps = at::zeros({s.batch}, i32);
  blockSteps = at::zeros({s.batch}, i32);
  blockMasks0 = at::zeros({s.batch}, i32);
  endFound = at::zeros({s.batch}, i32);
  token = at::zeros({cells}, i32);
  conf = at::zeros({cells}, at::TensorOptions().dtype(at::kFloat).device(device));
  arrivals = at::zeros({s.batch}, i32);
  positionArrivals = at::zeros({cells}, i32);
  chunks = at::zeros({cells * commitChunkCount(vocab) * (int64_t)sizeof(rule::ChunkResult)}, u8);
  windowPositions = at::arange(s.logitsCount, i64);
  pool = at::cuda::graph_pool_handle();
}

StepState ShapeBuffers::stepState() const {
  return StepState{reinterpret_cast<const uint64_t*>(seeds.data_ptr<int64_t>()),
                   steps.data_ptr<int32_t>(),
                   blockSteps.data_ptr<int32_t>(),
                   blockMasks0.data_ptr<int32_t>(),
                   conf.data_ptr<float>(),
                   token.data_ptr<int32_t>(),
                   reinterpret_cast<uint32_t*>(arrivals.data_ptr<int32_t>()),
                   remaining.device(),
                   stepsOut.device(),
                   endFound.data_ptr<int32_t>(),
                   committed.device(),
                   blockLengthOut.device()};
}

CommitLaunch ShapeBuffers::launch(const at::Tensor& logits, bool sampling) const {
  CommitLaunch l{};
  l.sampling = sampling;
  l.logits = logits.data_ptr();
  switch (logits.scalar_type()) {
    case at::kBFloat16: l.type = LogitsType::kBFloat16; break;
    case at::kHalf: l.type = LogitsType::kFloat16; break;
    default: l.type = LogitsType::kFloat32; break;
  }
  l.batch = shape.batch;
  l.blockStride = shape.blockStride;
  l.logitsPerRow = (int)logits.size(1);
  l.vocab = (int)logits.size(2);
  l.canvas = canvas.data_ptr<int64_t>();
  l.params = reinterpret_cast<const RuleParams*>(params.data_ptr<uint8_t>());
  l.state = stepState();
  l.chunks = reinterpret_cast<rule::ChunkResult*>(chunks.data_ptr<uint8_t>());
  l.positionArrivals = reinterpret_cast<uint32_t*>(positionArrivals.data_ptr<int32_t>());
  return l;
}

}  // namespace localleap
