// Standalone timing of the fused commit kernel (no libtorch, no node), for A/B runs of kernel
// variants in one call on the GPU machine: tools/device/kernel-ab.sh builds this file against
// each variant's commit_kernel.cu and runs them side by side. Per shape it prints the median and
// minimum of 300 launches (CUDA events around each, the canvas re-masked before each, input sets
// rotated so that every launch reads from memory, as benchKernelCuda does) and a checksum of the
// outputs, so that variants can be checked to compute the same thing.
//   commit_ab [--shapes 1,2,4,8] [--vocab 126464] [--block 32] [--iterations 300] [--strategy 3]
#include <cuda_bf16.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <algorithm>
#include <string>
#include <vector>

#include "commit_kernel.h"

using namespace localleap;

#define CHECK(call)                                                                       \
  do {                                                                                    \
    cudaError_t e_ = (call);                                                              \
    if (e_ != cudaSuccess) {                                                              \
      fprintf(stderr, "%s:%d %s: %s\n", __FILE__, __LINE__, #call, cudaGetErrorString(e_)); \
      exit(1);                                                                            \
    }                                                                                     \
  } while (0)

// Roughly normal logits with standard deviation 3 (the sum of four uniforms), from a hash.
__global__ void fillLogits(__nv_bfloat16* out, size_t n, uint64_t seed) {
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
    uint64_t h = rule::mix64(seed ^ (i * 0x9E3779B97F4A7C15ull));
    float s = 0;
    for (int k = 0; k < 4; ++k) s += (float)((h >> (16 * k)) & 0xFFFF) / 65535.0f;
    out[i] = __float2bfloat16((s - 2.0f) * 1.7320508f * 3.0f);
  }
}

__global__ void fillCanvas(int64_t* canvas, int n, int64_t value) {
  for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) canvas[i] = value;
}

template <typename T>
T* deviceZeros(size_t n) {
  T* p = nullptr;
  CHECK(cudaMalloc(&p, std::max<size_t>(n, 1) * sizeof(T)));
  CHECK(cudaMemset(p, 0, std::max<size_t>(n, 1) * sizeof(T)));
  return p;
}

static uint64_t fnv(const void* data, size_t bytes, uint64_t h) {
  const unsigned char* p = static_cast<const unsigned char*>(data);
  for (size_t i = 0; i < bytes; ++i) h = (h ^ p[i]) * 0x100000001B3ull;
  return h;
}

int main(int argc, char** argv) {
  std::vector<int> batches{1, 2, 4, 8};
  int vocab = 126464, blockLength = 32, iterations = 300, strategy = kLocalLeap;
  for (int a = 1; a + 1 < argc; a += 2) {
    std::string k = argv[a];
    if (k == "--shapes") {
      batches.clear();
      for (char* t = strtok(argv[a + 1], ","); t; t = strtok(nullptr, ",")) batches.push_back(atoi(t));
    } else if (k == "--vocab") vocab = atoi(argv[a + 1]);
    else if (k == "--block") blockLength = atoi(argv[a + 1]);
    else if (k == "--iterations") iterations = atoi(argv[a + 1]);
    else if (k == "--strategy") strategy = atoi(argv[a + 1]);
  }
  for (int batch : batches) {
    const size_t cells = (size_t)batch * blockLength;
    const size_t n = cells * vocab;
    const size_t setBytes = n * sizeof(__nv_bfloat16);
    const int sets = (int)std::max<size_t>(2, (160ull << 20) / setBytes + 1);
    std::vector<__nv_bfloat16*> inputs(sets);
    for (int s = 0; s < sets; ++s) {
      CHECK(cudaMalloc(&inputs[s], setBytes));
      fillLogits<<<1024, 256>>>(inputs[s], n, 1000 + s);
    }
    const int chunks = commitChunkCount(vocab);
    RuleParams p{};
    p.strategy = strategy;
    p.maskId = vocab;  // outside the vocabulary, as benchKernelCuda
    p.canvasLength = blockLength;
    p.stepsPerBlock = 1;
    p.topKOverride = 1;
    p.radius = 4;
    p.threshold = 0.9f;
    p.anchorThreshold = 0.9f;
    p.relaxedThreshold = 0.75f;
#ifdef LL_COMMIT_PER_ROW
    // One RuleParams per row, each row's block at logits offset 0 of its own row.
    p.blockLength = blockLength;
    p.logitsOffset = 0;
    std::vector<RuleParams> rows(batch, p);
    RuleParams* dParams = deviceZeros<RuleParams>(batch);
    CHECK(cudaMemcpy(dParams, rows.data(), sizeof p * batch, cudaMemcpyHostToDevice));
#else
    RuleParams* dParams = deviceZeros<RuleParams>(1);
    CHECK(cudaMemcpy(dParams, &p, sizeof p, cudaMemcpyHostToDevice));
#endif
    StepState st{};
    st.seeds = deviceZeros<uint64_t>(batch);
    st.steps = deviceZeros<int32_t>(batch);
    st.blockSteps = deviceZeros<int32_t>(batch);
    st.blockMasks0 = deviceZeros<int32_t>(batch);
    st.conf = deviceZeros<float>(cells);
    st.token = deviceZeros<int32_t>(cells);
    st.arrivals = deviceZeros<uint32_t>(batch);
    st.remaining = deviceZeros<int32_t>(batch);
    st.stepsOut = deviceZeros<int32_t>(batch);
    st.endFound = deviceZeros<int32_t>(batch);
    st.committed = deviceZeros<int32_t>(cells);
    int64_t* canvas = deviceZeros<int64_t>(cells);
    CommitLaunch l{};
    l.type = LogitsType::kBFloat16;
    l.sampling = false;
    l.batch = batch;
#ifdef LL_COMMIT_PER_ROW
    l.blockStride = blockLength;
    l.logitsPerRow = blockLength;
#else
    l.blockLength = blockLength;
#endif
    l.vocab = vocab;
    l.canvas = canvas;
    l.params = dParams;
    l.state = st;
    l.chunks = deviceZeros<rule::ChunkResult>(cells * chunks);
    l.positionArrivals = deviceZeros<uint32_t>(cells);

    cudaEvent_t start, stop;
    CHECK(cudaEventCreate(&start));
    CHECK(cudaEventCreate(&stop));
    std::vector<float> times;
    for (int it = -10; it < iterations; ++it) {
      fillCanvas<<<1, 256>>>(canvas, (int)cells, vocab);
      l.logits = inputs[(it + 10) % sets];
      CHECK(cudaEventRecord(start));
      CHECK(launchCommitStep(l, 0));
      CHECK(cudaEventRecord(stop));
      CHECK(cudaEventSynchronize(stop));
      float ms = 0;
      CHECK(cudaEventElapsedTime(&ms, start, stop));
      if (it >= 0) times.push_back(ms);
    }
    // Outputs of one launch on set 0 with every position masked.
    fillCanvas<<<1, 256>>>(canvas, (int)cells, vocab);
    l.logits = inputs[0];
    CHECK(launchCommitStep(l, 0));
    CHECK(cudaDeviceSynchronize());
    std::vector<float> conf(cells);
    std::vector<int32_t> token(cells), committed(cells);
    std::vector<int64_t> after(cells);
    CHECK(cudaMemcpy(conf.data(), st.conf, cells * 4, cudaMemcpyDeviceToHost));
    CHECK(cudaMemcpy(token.data(), st.token, cells * 4, cudaMemcpyDeviceToHost));
    CHECK(cudaMemcpy(committed.data(), st.committed, cells * 4, cudaMemcpyDeviceToHost));
    CHECK(cudaMemcpy(after.data(), canvas, cells * 8, cudaMemcpyDeviceToHost));
    uint64_t h = 0xcbf29ce484222325ull;
    h = fnv(conf.data(), cells * 4, h);
    h = fnv(token.data(), cells * 4, h);
    h = fnv(committed.data(), cells * 4, h);
    h = fnv(after.data(), cells * 8, h);
    int commits = 0;
    for (int32_t c : committed) commits += c >= 0;
    std::sort(times.begin(), times.end());
    printf("[%d,%d,%d] bf16 strategy %d: median %.1f us, min %.1f us, %.0f GB/s, %d commits, checksum %016llx, conf[0] %.9g\n",
           batch, blockLength, vocab, strategy, times[times.size() / 2] * 1e3, times.front() * 1e3,
           setBytes / (times[times.size() / 2] * 1e-3) / 1e9, commits, (unsigned long long)h, conf[0]);
    for (auto* x : inputs) cudaFree(x);
  }
  return 0;
}
