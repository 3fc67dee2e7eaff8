// APD's token kernel. Grid: one CTA per task (a drafted position's draft or target). Each thread
// scores a strided share of the V' tokens with apd_accept.h's tokenScore (the arithmetic the host
// runs, fmad off), keeps its best (score, index) with rule::betterCandidate, and the CTA reduces
// those (warp shuffles, then one warp over the warps' bests). betterCandidate orders (score,
// index) totally, so the token is the one the host's sequential scan chooses, bit for bit.
#include "apd_tokens_kernel.h"

namespace localleap {
namespace {

constexpr int kThreads = 256;
constexpr int kWarps = kThreads / 32;

struct Best {
  float score;
  long long index;
};

__device__ __forceinline__ void keepBetter(Best& a, const Best& b) {
  if (rule::betterCandidate(b.score, b.index, a.score, a.index)) a = b;
}

__device__ __forceinline__ Best warpBest(Best v) {
#pragma unroll
  for (int off = 16; off > 0; off >>= 1) {
    Best o{__shfl_xor_sync(0xffffffffu, v.score, off), __shfl_xor_sync(0xffffffffu, v.index, off)};
    keepBetter(v, o);
  }
  return v;
}

__global__ void __launch_bounds__(kThreads) apdTokensKernel(ApdTokensLaunch launch) {
  const apd::TokenTask task = launch.tasks[blockIdx.x];
  const apd::TokenRule& rule = launch.rule;
  Best best{-INFINITY, (long long)apd::kNoToken};
  for (int32_t v = (int32_t)threadIdx.x; v < rule.width; v += kThreads) {
    if (v == rule.maskId) continue;
    keepBetter(best, Best{apd::tokenScore(task, rule, v), (long long)v});
  }
  best = warpBest(best);
  __shared__ Best warps[kWarps];
  const int warp = (int)threadIdx.x / 32, lane = (int)threadIdx.x % 32;
  if (lane == 0) warps[warp] = best;
  __syncthreads();
  if (warp == 0) {
    best = lane < kWarps ? warps[lane] : Best{-INFINITY, (long long)apd::kNoToken};
    best = warpBest(best);
    if (lane == 0) launch.tokens[blockIdx.x] = best.index == (long long)apd::kNoToken ? -1 : (int32_t)best.index;
  }
}

}  // namespace

cudaError_t launchApdTokens(const ApdTokensLaunch& launch, cudaStream_t stream) {
  if (launch.count <= 0) return cudaSuccess;
  apdTokensKernel<<<launch.count, kThreads, 0, stream>>>(launch);
  return cudaGetLastError();
}

}  // namespace localleap
