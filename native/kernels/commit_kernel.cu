// The fused LocalLeap commit kernel. Grid: one CTA per (block position, vocabulary chunk).
//  1. Each CTA loads its chunk of logits once (16-byte loads when aligned) and reduces it to a
//     ChunkResult: max, best token (greedy or Gumbel), exact fixed-point sum.
//  2. The last CTA to finish a position combines its chunks (rule::combineChunks).
//  3. The last position to finish a row runs the commit decision for the row
//     (rule::decidePosition, one thread per position) and commits in place.
// "Last" is found with arrival counters (threadfence + atomicAdd), so the whole step is one
// launch with no host synchronisation; counters are reset by their last reader for the next
// launch (graph replays included). All arithmetic comes from rule_math.h / rule_decide.h, the
// same code the CPU rule runs, so the results are bit-identical.
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "commit_kernel.h"
#include "rule_decide.h"

namespace localleap {
namespace {

using rule::ChunkResult;

constexpr int kThreads = 256;
constexpr int kWarps = kThreads / 32;
constexpr int kPerThread = rule::kVocabChunk / kThreads;  // 32 logits per thread
constexpr int kMaxChunks = kMaxVocab / rule::kVocabChunk;
static_assert(rule::kVocabChunk % (kThreads * 8) == 0, "chunk must split into 16-byte pieces");

template <typename T>
struct Elems16;  // elements per 16-byte load
template <>
struct Elems16<float> { static constexpr int n = 4; };
template <>
struct Elems16<__nv_bfloat16> { static constexpr int n = 8; };
template <>
struct Elems16<__half> { static constexpr int n = 8; };

__device__ __forceinline__ float toFloat(float v) { return v; }
__device__ __forceinline__ float toFloat(__nv_bfloat16 v) { return __bfloat162float(v); }
__device__ __forceinline__ float toFloat(__half v) { return __half2float(v); }

// This thread's share of one chunk, kept as the raw 16-byte loads (bf16: 16 registers) and
// converted to float in each pass: fewer registers, so more CTAs per SM hide the load latency.
template <typename T>
struct HeldChunk {
  static constexpr int n = Elems16<T>::n;
  static constexpr int pieces = kPerThread / n;
  uint4 raw[pieces];
  __device__ __forceinline__ T& at(int k) { return reinterpret_cast<T*>(raw)[k]; }
};

// Vector layout (a full, 16-byte aligned chunk): piece j of thread t covers logits
// begin + (j * kThreads + t) * n .. + n - 1. Scalar layout: logit begin + k * kThreads + t.
template <typename T>
__device__ __forceinline__ int heldIndex(bool vectorLayout, int begin, int k) {
  constexpr int n = Elems16<T>::n;
  return vectorLayout ? begin + ((k / n) * kThreads + (int)threadIdx.x) * n + (k % n)
                      : begin + k * kThreads + (int)threadIdx.x;
}

template <typename T>
__device__ __forceinline__ void loadChunk(const T* row, int begin, int end, bool vectorLayout, HeldChunk<T>& held) {
  if (vectorLayout) {
#pragma unroll
    for (int j = 0; j < HeldChunk<T>::pieces; ++j) {
      held.raw[j] = __ldcs(reinterpret_cast<const uint4*>(row + begin + (j * kThreads + threadIdx.x) * HeldChunk<T>::n));
    }
  } else {
#pragma unroll
    for (int k = 0; k < kPerThread; ++k) {
      const int v = begin + k * kThreads + (int)threadIdx.x;
      held.at(k) = v < end ? row[v] : T(-INFINITY);
    }
  }
}

struct Best {
  float score;
  int32_t index;
  float logit;
};

__device__ __forceinline__ void keepBetter(Best& a, const Best& b) {
  if (rule::betterCandidate(b.score, b.index, a.score, a.index)) a = b;
}

__device__ __forceinline__ Best warpBest(Best v) {
#pragma unroll
  for (int off = 16; off > 0; off >>= 1) {
    Best o{__shfl_xor_sync(0xffffffffu, v.score, off), __shfl_xor_sync(0xffffffffu, v.index, off),
           __shfl_xor_sync(0xffffffffu, v.logit, off)};
    keepBetter(v, o);
  }
  return v;
}

__device__ __forceinline__ float warpMax(float v) {
#pragma unroll
  for (int off = 16; off > 0; off >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, off));
  return v;
}

__device__ __forceinline__ long long warpSum(long long v) {
#pragma unroll
  for (int off = 16; off > 0; off >>= 1) v += __shfl_xor_sync(0xffffffffu, v, off);
  return v;
}

// Reduces one chunk of one position; the result is valid in thread 0. kSampling selects the
// Gumbel score (a hash and two logs per logit) at compile time, so greedy decoding pays nothing.
template <typename T, bool kSampling>
__device__ ChunkResult reduceChunk(const T* row, int begin, int end, const RuleParams& p, uint64_t gumbelBase) {
  __shared__ Best sBest[kWarps];
  __shared__ float sMax[kWarps];
  __shared__ long long sSum[kWarps];
  const int lane = threadIdx.x & 31;
  const int warp = threadIdx.x >> 5;
  const bool vectorLayout =
      end - begin == rule::kVocabChunk && (reinterpret_cast<uintptr_t>(row + begin) & 15u) == 0;

  HeldChunk<T> held;
  loadChunk<T>(row, begin, end, vectorLayout, held);

  // Pass 1: max, and the best token (ties to the lower index).
  const int maskId = p.maskId;
  float localMax = -INFINITY;
  Best best{-INFINITY, INT32_MAX, -INFINITY};
#pragma unroll
  for (int k = 0; k < kPerThread; ++k) {
    const int v = heldIndex<T>(vectorLayout, begin, k);
    const float z = rule::sanitizeLogit(toFloat(held.at(k)));  // -inf past the end
    localMax = fmaxf(localMax, z);
    if (v >= end || v == maskId) continue;  // the mask is never chosen, but counts in max and sum
    const float score = kSampling ? rule::gumbelScore(z, p.invTemperature, gumbelBase, v) : z;
    keepBetter(best, Best{score, v, z});
  }
  localMax = warpMax(localMax);
  best = warpBest(best);
  if (lane == 0) {
    sMax[warp] = localMax;
    sBest[warp] = best;
  }
  __syncthreads();
  float chunkMax = sMax[0];
#pragma unroll
  for (int w = 1; w < kWarps; ++w) chunkMax = fmaxf(chunkMax, sMax[w]);

  // Pass 2: the exact fixed-point sum relative to the chunk's max.
  long long localSum = 0;
#pragma unroll
  for (int k = 0; k < kPerThread; ++k) {
    localSum += rule::fixedExp(rule::sanitizeLogit(toFloat(held.at(k))) - chunkMax);  // -inf -> 0
  }
  localSum = warpSum(localSum);
  if (lane == 0) sSum[warp] = localSum;
  __syncthreads();

  ChunkResult r{chunkMax, -INFINITY, INT32_MAX, -INFINITY, 0};
  if (threadIdx.x == 0) {
    Best all = sBest[0];
    long long sum = sSum[0];
    for (int w = 1; w < kWarps; ++w) {
      keepBetter(all, sBest[w]);
      sum += sSum[w];
    }
    r.bestScore = all.score;
    r.bestIndex = all.index;
    r.bestLogit = all.logit;
    r.sum = sum;
  }
  return r;
}

// Step 3: the commit decision for row b, by the CTA that finished the row's last position.
__device__ void decideRow(int b, int blockLength, int64_t* canvas, const RuleParams& p,
                          const StepState& st) {
  extern __shared__ unsigned char sRow[];
  uint64_t* keys = reinterpret_cast<uint64_t*>(sRow);
  float* conf = reinterpret_cast<float*>(keys + blockLength);
  int32_t* token = reinterpret_cast<int32_t*>(conf + blockLength);
  uint8_t* masked = reinterpret_cast<uint8_t*>(token + blockLength);
  __shared__ int sMasked, sCommitted, sEnd, sQuota;

  int64_t* canvasRow = canvas + (int64_t)b * p.canvasLength;
  const int64_t rowBase = (int64_t)b * blockLength;
  const uint64_t rowStep = (uint64_t)st.steps[b];
  if (threadIdx.x == 0) {
    sMasked = 0;
    sCommitted = 0;
    sEnd = 0;
  }
  __syncthreads();
  for (int i = threadIdx.x; i < blockLength; i += blockDim.x) {
    conf[i] = __ldcg(st.conf + rowBase + i);  // written by other CTAs: bypass L1
    token[i] = __ldcg(st.token + rowBase + i);
    masked[i] = canvasRow[p.blockStart + i] == p.maskId;
    if (p.strategy == kRandom) {
      uint64_t genPos = (uint64_t)(p.blockStart + i - p.genStart);
      keys[i] = rule::randomOrderKey(rule::positionStream(st.seeds[b], rowStep, genPos));
    } else {
      keys[i] = rule::confidenceKey(conf[i]);
    }
    if (masked[i]) atomicAdd(&sMasked, 1);
  }
  __syncthreads();
  if (threadIdx.x == 0) {
    if (st.blockSteps[b] == 0) st.blockMasks0[b] = sMasked;
    sQuota = rule::rankQuota(p, st.blockMasks0[b], st.blockSteps[b]);
  }
  __syncthreads();

  rule::RowView view{conf, keys, masked, blockLength};
  for (int i = threadIdx.x; i < blockLength; i += blockDim.x) {
    const bool commit = rule::decidePosition(view, i, p, sQuota);
    st.committed[rowBase + i] = commit ? token[i] : -1;
    if (commit) {
      canvasRow[p.blockStart + i] = token[i];
      atomicAdd(&sCommitted, 1);
    }
  }
  __syncthreads();
  for (int i = threadIdx.x; i < blockLength; i += blockDim.x) {
    if (rule::isEndToken(p, canvasRow[p.blockStart + i])) atomicExch(&sEnd, 1);
  }
  __syncthreads();
  if (threadIdx.x == 0) {
    if (sMasked > 0) {
      st.steps[b] += 1;
      st.blockSteps[b] += 1;
    }
    const int remaining = sMasked - sCommitted;
    st.remaining[b] = remaining;
    if (sMasked > 0 && remaining == 0 && sEnd) st.endFound[b] = 1;
    st.stepsOut[b] = st.steps[b];
    st.arrivals[b] = 0;  // ready for the next launch
  }
}

// Greedy: <= 64 registers so that 4 CTAs share an SM; sampling needs more for its hashing.
template <typename T, bool kSampling>
__global__ void __launch_bounds__(kThreads, kSampling ? 2 : 4)
    commitStepKernel(const T* __restrict__ logits, int blockLength, int vocab, int chunks,
                     int64_t* canvas, const RuleParams* __restrict__ params, StepState st,
                     ChunkResult* chunkScratch, uint32_t* positionArrivals) {
  const RuleParams& p = *params;
  const int chunk = blockIdx.x % chunks;
  const int q = blockIdx.x / chunks;  // b * blockLength + i
  const int b = q / blockLength;
  const int i = q % blockLength;
  const int64_t* canvasRow = canvas + (int64_t)b * p.canvasLength;
  const bool masked = canvasRow[p.blockStart + i] == p.maskId;

  // 1. Reduce this chunk (all threads take part; thread 0 holds the result).
  if (masked) {
    uint64_t base = 0;
    if (kSampling) {
      uint64_t genPos = (uint64_t)(p.blockStart + i - p.genStart);
      base = rule::gumbelBase(rule::positionStream(st.seeds[b], (uint64_t)st.steps[b], genPos));
    }
    const int begin = chunk * rule::kVocabChunk;
    const int end = min(begin + rule::kVocabChunk, vocab);
    ChunkResult r = reduceChunk<T, kSampling>(logits + (int64_t)q * vocab, begin, end, p, base);
    if (threadIdx.x == 0) chunkScratch[(int64_t)q * chunks + chunk] = r;
  }

  // 2. The last chunk of the position combines.
  __shared__ bool sLast;
  if (threadIdx.x == 0) {
    __threadfence();
    sLast = atomicAdd(&positionArrivals[q], 1u) == (unsigned)(chunks - 1);
  }
  __syncthreads();
  if (!sLast) return;
  // Chunk results were written by other CTAs: read them through L2 (__ldcg), never a stale L1.
  __shared__ ChunkResult sChunks[kMaxChunks];
  __threadfence();
  if (masked) {
    const ChunkResult* all = chunkScratch + (int64_t)q * chunks;
    for (int c = threadIdx.x; c < chunks; c += blockDim.x) {
      sChunks[c].maxLogit = __ldcg(&all[c].maxLogit);
      sChunks[c].bestScore = __ldcg(&all[c].bestScore);
      sChunks[c].bestIndex = __ldcg(&all[c].bestIndex);
      sChunks[c].bestLogit = __ldcg(&all[c].bestLogit);
      sChunks[c].sum = __ldcg(reinterpret_cast<const long long*>(&all[c].sum));
    }
  }
  __syncthreads();
  if (threadIdx.x == 0) {
    positionArrivals[q] = 0;  // ready for the next launch
    int32_t token = -1;
    float conf = 0.0f;
    if (masked) rule::combineChunks(sChunks, chunks, &token, &conf);
    st.conf[q] = conf;
    st.token[q] = token;
    __threadfence();
    sLast = atomicAdd(&st.arrivals[b], 1u) == (unsigned)(blockLength - 1);
  }
  __syncthreads();
  if (!sLast) return;
  __threadfence();

  // 3. The last position of the row decides and commits.
  decideRow(b, blockLength, canvas, p, st);
}

template <typename T, bool kSampling>
cudaError_t launchTyped(const CommitLaunch& l, cudaStream_t stream) {
  const int chunks = commitChunkCount(l.vocab);
  const long long grid = (long long)l.batch * l.blockLength * chunks;
  const size_t shared = (size_t)l.blockLength * (sizeof(uint64_t) + sizeof(float) + sizeof(int32_t) + 1);
  commitStepKernel<T, kSampling><<<(unsigned)grid, kThreads, shared, stream>>>(
      static_cast<const T*>(l.logits), l.blockLength, l.vocab, chunks, l.canvas, l.params, l.state,
      l.chunks, l.positionArrivals);
  return cudaGetLastError();
}

}  // namespace

int commitChunkCount(int vocab) { return (vocab + rule::kVocabChunk - 1) / rule::kVocabChunk; }

cudaError_t launchCommitStep(const CommitLaunch& l, cudaStream_t stream) {
  if (l.batch <= 0 || l.blockLength <= 0 || l.blockLength > kMaxBlockLength || l.vocab <= 0 ||
      l.vocab > kMaxVocab) {
    return cudaErrorInvalidValue;
  }
  switch (l.type) {
    case LogitsType::kFloat32:
      return l.sampling ? launchTyped<float, true>(l, stream) : launchTyped<float, false>(l, stream);
    case LogitsType::kBFloat16:
      return l.sampling ? launchTyped<__nv_bfloat16, true>(l, stream) : launchTyped<__nv_bfloat16, false>(l, stream);
    case LogitsType::kFloat16:
      return l.sampling ? launchTyped<__half, true>(l, stream) : launchTyped<__half, false>(l, stream);
  }
  return cudaErrorInvalidValue;
}

}  // namespace localleap
