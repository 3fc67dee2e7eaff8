// The CUDA side of the test and benchmark hooks: the same kernel launch the CUDA back end uses.
#include <c10/cuda/CUDAStream.h>
#include <c10/cuda/CUDAGuard.h>
#include <cuda_runtime.h>
#include <torch/torch.h>

#include <algorithm>

#include "../kernels/commit_kernel.h"
#include "cuda_buffers.h"
#include "errors.h"
#include "rule_case.h"

namespace localleap {
namespace {

void check(cudaError_t status, const char* what) {
  if (status != cudaSuccess) throw EngineError(ErrorCode::kInternal, std::string(what) + ": " + cudaGetErrorString(status));
}

at::ScalarType scalarTypeOf(LogitsDType d) {
  return d == LogitsDType::kBFloat16 ? at::kBFloat16 : d == LogitsDType::kFloat16 ? at::kHalf : at::kFloat;
}

c10::Device cudaDevice() {
  if (!torch::cuda::is_available()) throw EngineError(ErrorCode::kCudaUnavailable, "no CUDA device is visible");
  return c10::Device(c10::kCUDA, 0);
}

}  // namespace

RuleCaseResult runRuleCaseCuda(const RuleCase& c) {
  checkRuleCase(c);
  const c10::Device device = cudaDevice();
  c10::cuda::CUDAGuard guard(device);
  BucketShape shape{c.batch, c.blockLength, c.blockLength, c.blockLength, false, CacheMode::kNone};
  ShapeBuffers b(shape, c.vocab, device);
  bool sampling = false;
  for (const RuleParams& p : c.params) sampling = sampling || p.temperature > 0.0f;
  at::Tensor logits;
  if (c.dtype == LogitsDType::kFloat32) {
    logits = at::from_blob(const_cast<float*>(c.logitsF32.data()), {c.batch, c.blockLength, c.vocab}, at::kFloat);
  } else {
    logits = at::from_blob(const_cast<uint16_t*>(c.logitsBits.data()), {c.batch, c.blockLength, c.vocab},
                           scalarTypeOf(c.dtype));
  }
  logits = logits.to(device).contiguous();
  at::Tensor block = at::empty({c.batch, c.blockLength}, at::kLong);
  std::copy(c.block.begin(), c.block.end(), block.data_ptr<int64_t>());
  b.canvas.copy_(block);
  at::Tensor seeds = at::empty({c.batch}, at::kLong);
  std::memcpy(seeds.data_ptr<int64_t>(), c.seeds.data(), c.seeds.size() * sizeof(uint64_t));
  b.seeds.copy_(seeds);
  b.steps.copy_(at::tensor(c.rowSteps, at::kInt));
  check(cudaMemcpy(b.params.data_ptr(), c.params.data(), sizeof(RuleParams) * c.params.size(), cudaMemcpyHostToDevice),
        "copying params");
  // Poison every output so that an unwritten one cannot pass for a result.
  b.token.fill_(-7);
  b.conf.fill_(-7.0f);
  std::fill(b.committed.host(), b.committed.host() + (size_t)c.batch * c.blockLength, -7);
  std::fill(b.blockLengthOut.host(), b.blockLengthOut.host() + c.batch, -7);
  // The learned filter, uploaded as the CUDA back end does (w1, b1, w2, b2 back to back).
  CommitLaunch launch = b.launch(logits, sampling);
  at::Tensor filterDevice;
  if (c.filter.present()) {
    std::vector<float> all;
    for (const auto* v : {&c.filter.w1, &c.filter.b1, &c.filter.w2, &c.filter.b2}) all.insert(all.end(), v->begin(), v->end());
    filterDevice = at::from_blob(all.data(), {(int64_t)all.size()}, at::kFloat).to(device);
    const float* base = filterDevice.data_ptr<float>();
    launch.state.filter = LearnedFilterView{base, base + c.filter.w1.size(),
                                            base + c.filter.w1.size() + c.filter.b1.size(),
                                            base + c.filter.w1.size() + c.filter.b1.size() + c.filter.w2.size(),
                                            c.filter.blockLength, c.filter.hidden};
  }
  cudaStream_t stream = c10::cuda::getCurrentCUDAStream();
  check(launchCommitStep(launch, stream), "launching the commit kernel");
  check(cudaStreamSynchronize(stream), "running the commit kernel");

  const size_t cells = (size_t)c.batch * c.blockLength;
  RuleCaseResult r;
  at::Tensor token = b.token.to(at::kCPU), conf = b.conf.to(at::kCPU), after = b.canvas.to(at::kCPU);
  r.tokens.assign(token.data_ptr<int32_t>(), token.data_ptr<int32_t>() + cells);
  r.conf.assign(conf.data_ptr<float>(), conf.data_ptr<float>() + cells);
  r.block.assign(after.data_ptr<int64_t>(), after.data_ptr<int64_t>() + cells);
  r.commit.resize(cells);
  for (size_t i = 0; i < cells; ++i) {
    const int32_t committed = b.committed.host()[i];
    if (committed == -7) throw EngineError(ErrorCode::kInternal, "the kernel left a status entry unwritten");
    r.commit[i] = committed >= 0;
  }
  r.blockLengths.assign(b.blockLengthOut.host(), b.blockLengthOut.host() + c.batch);
  return r;
}

KernelBench benchKernelCuda(int batch, int blockLength, int vocab, LogitsDType dtype, Strategy strategy, int iterations,
                            uint64_t seed) {
  const c10::Device device = cudaDevice();
  c10::cuda::CUDAGuard guard(device);
  BucketShape shape{batch, blockLength, blockLength, blockLength, false, CacheMode::kNone};
  ShapeBuffers b(shape, vocab, device);
  // Enough input sets that their total exceeds the L2 cache: every launch reads from memory.
  const int64_t setBytes = (int64_t)batch * blockLength * vocab * (dtype == LogitsDType::kFloat32 ? 4 : 2);
  const int sets = (int)std::max<int64_t>(2, (160ll << 20) / std::max<int64_t>(setBytes, 1) + 1);
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  std::vector<at::Tensor> inputs;
  for (int s = 0; s < sets; ++s) {
    inputs.push_back((at::randn({batch, blockLength, vocab}, gen) * 3.0).to(device, scalarTypeOf(dtype)));
  }
  RuleParams p{};
  p.strategy = strategy;
  p.maskId = vocab;  // never a chosen token; every position starts masked
  p.canvasLength = blockLength;
  p.blockLength = blockLength;
  p.logitsOffset = 0;
  p.stepsPerBlock = 1;
  p.topKOverride = 1;
  p.radius = 4;
  p.threshold = 0.9f;
  p.anchorThreshold = 0.9f;
  p.relaxedThreshold = 0.75f;
  const std::vector<RuleParams> rows(batch, p);
  check(cudaMemcpy(b.params.data_ptr(), rows.data(), sizeof(RuleParams) * rows.size(), cudaMemcpyHostToDevice),
        "copying params");
  cudaStream_t stream = c10::cuda::getCurrentCUDAStream();
  cudaEvent_t start, stop;
  cudaEventCreate(&start);
  cudaEventCreate(&stop);
  std::vector<float> times;
  for (int it = -10; it < iterations; ++it) {  // the first 10 warm up
    b.canvas.fill_((int64_t)vocab);              // re-mask: every launch does the full work
    cudaEventRecord(start, stream);
    check(launchCommitStep(b.launch(inputs[(it + 10) % sets], false), stream), "launching the commit kernel");
    cudaEventRecord(stop, stream);
    check(cudaEventSynchronize(stop), "running the commit kernel");
    float ms = 0;
    cudaEventElapsedTime(&ms, start, stop);
    if (it >= 0) times.push_back(ms);
  }
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  std::sort(times.begin(), times.end());
  KernelBench out;
  out.medianMs = times[times.size() / 2];
  out.minMs = times.front();
  out.bytes = (double)setBytes;
  return out;
}

}  // namespace localleap
