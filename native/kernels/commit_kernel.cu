// The fused LocalLeap commit kernel. Grid: one CTA per (block position, vocabulary chunk).
//  1. Each CTA loads its chunk of logits once (16-byte loads when aligned) and reduces it to a
//     ChunkResult: max, best token (greedy or Gumbel), exact fixed-point sum.
//  2. The last CTA to finish a position combines its chunks (rule::combineChunks, in one warp).
//  3. The last position to finish a row runs the commit decision for the row
//     (rule::decidePosition, one thread per position) and commits in place.
// "Last" is found with arrival counters (threadfence + atomicAdd), so the whole step is one
// launch with no host synchronisation; counters are reset by their last reader for the next
// launch (graph replays included). All arithmetic comes from rule_math.h / rule_decide.h, the
// same code the CPU rule runs, so the results are bit-identical.
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "commit_kernel.h"
#include "learned_filter.h"
#include "rule_decide.h"

namespace localleap {
namespace {

using rule::ChunkResult;

constexpr int kThreads = 256;
constexpr int kWarps = kThreads / 32;
constexpr int kPerThread = rule::kVocabChunk / kThreads;  // 32 logits per thread
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
  if (!kSampling && vectorLayout && (maskId < begin || maskId >= end)) {
    // Greedy over a full chunk without the mask id (the common case): the best logit is the max.
    // Each thread's indices rise with k, so "strictly greater" keeps the lowest index of equal
    // maxima; starting from element 0 (NaN counted as -inf) matches the general path when every
    // logit is -inf or NaN.
    float top = rule::sanitizeLogit(toFloat(held.at(0)));
    int topK = 0;
#pragma unroll
    for (int k = 1; k < kPerThread; ++k) {
      const float z = toFloat(held.at(k));  // NaN never compares greater
      if (z > top) {
        top = z;
        topK = k;
      }
    }
    localMax = top;
    best = Best{top, heldIndex<T>(true, begin, topK), top};
  } else {
#pragma unroll
    for (int k = 0; k < kPerThread; ++k) {
      const int v = heldIndex<T>(vectorLayout, begin, k);
      const float z = rule::sanitizeLogit(toFloat(held.at(k)));  // -inf past the end
      localMax = fmaxf(localMax, z);
      if (v >= end || v == maskId) continue;  // the mask is never chosen, but counts in max and sum
      const float score = kSampling ? rule::gumbelScore(z, p.invTemperature, gumbelBase, v) : z;
      keepBetter(best, Best{score, v, z});
    }
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
    // NaN and -inf logits give NaN or -inf here, which fixedExp's cutoff turns into 0.
    localSum += rule::fixedExp(toFloat(held.at(k)) - chunkMax);
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

// Step 2: rule::combineChunks spread over one warp (lane c takes chunks c, c + 32, ...): the same
// result, because the best (score, index) is a total order, the max differs at most in the sign
// of a zero, and the fixed-point sums are integers. Chunk results were written by other CTAs:
// read through L2 (__ldcg), never a stale L1. The result is valid in every lane.
__device__ void combineChunksWarp(const ChunkResult* all, int chunks, int32_t* token, float* conf) {
  const int lane = threadIdx.x & 31;
  float maxLogit = -INFINITY;
  Best best{-INFINITY, INT32_MAX, -INFINITY};
  for (int c = lane; c < chunks; c += 32) {
    maxLogit = fmaxf(maxLogit, __ldcg(&all[c].maxLogit));
    keepBetter(best, Best{__ldcg(&all[c].bestScore), __ldcg(&all[c].bestIndex), __ldcg(&all[c].bestLogit)});
  }
  maxLogit = warpMax(maxLogit);
  best = warpBest(best);
  long long sum = 0;
  for (int c = lane; c < chunks; c += 32) {
    const long long chunkSum = __ldcg(reinterpret_cast<const long long*>(&all[c].sum));
    sum += rule::rescaledChunkSum(chunkSum, __ldcg(&all[c].maxLogit) - maxLogit);
  }
  sum = warpSum(sum);
  *token = best.index;
  *conf = rule::confidenceOf(rule::fixedExp(best.logit - maxLogit), sum);
}

// Step 3: the commit decision for row b, by the CTA that finished the row's last position.
__device__ void decideRow(int b, int blockStride, int64_t* canvas, const RuleParams& p,
                          const StepState& st) {
  const int span = p.blockLength;  // positions computed this step
  extern __shared__ unsigned char sRow[];
  uint64_t* keys = reinterpret_cast<uint64_t*>(sRow);
  float* conf = reinterpret_cast<float*>(keys + span);
  int32_t* token = reinterpret_cast<int32_t*>(conf + span);
  uint8_t* masked = reinterpret_cast<uint8_t*>(token + span);
  __shared__ int sMasked, sCommitted, sEnd, sQuota, sLength;

  int64_t* canvasRow = canvas + (int64_t)b * p.canvasLength;
  const int64_t rowBase = (int64_t)b * blockStride;
  const uint64_t rowStep = (uint64_t)st.steps[b];
  if (threadIdx.x == 0) {
    sMasked = 0;
    sCommitted = 0;
    sEnd = 0;
  }
  __syncthreads();
  for (int i = threadIdx.x; i < span; i += blockDim.x) {
    conf[i] = __ldcg(st.conf + rowBase + i);  // written by other CTAs: bypass L1
    token[i] = __ldcg(st.token + rowBase + i);
    masked[i] = canvasRow[p.blockStart + i] == p.maskId;
    if (p.strategy == kRandom) {
      uint64_t genPos = (uint64_t)(p.blockStart + i - p.genStart);
      keys[i] = rule::randomOrderKey(rule::positionStream(st.seeds[b], rowStep, genPos));
    } else {
      keys[i] = rule::confidenceKey(conf[i]);
    }
  }
  __syncthreads();
  // An adaptive block's first step decides its length (one thread: the same scan as the CPU);
  // the positions past it are not in the block.
  const bool decideLength = p.adaptiveWindow > 0 && st.blockSteps[b] == 0;
  if (threadIdx.x == 0) {
    const int length = decideLength ? rule::adaptiveBlockLength(p, conf, token, masked) : span;
    sLength = length;
    st.blockLengthOut[b] = length;
  }
  __syncthreads();
  const int blockLength = sLength;
  for (int i = threadIdx.x; i < blockLength; i += blockDim.x) {
    if (masked[i]) atomicAdd(&sMasked, 1);
  }
  __syncthreads();
  if (threadIdx.x == 0) {
    if (st.blockSteps[b] == 0) st.blockMasks0[b] = sMasked;
    const int stepsPerBlock =
        decideLength ? rule::adaptiveStepsPerBlock(blockLength, p.scheduleSteps, p.genLength) : p.stepsPerBlock;
    sQuota = rule::rankQuotaFor(p, stepsPerBlock, st.blockMasks0[b], st.blockSteps[b]);
  }
  __syncthreads();

  // Strategy learned: the filter's hidden units, then one logit per block position (the same
  // learned_filter.h functions as the CPU rule, one thread per unit / position).
  __shared__ float sHidden[kMaxFilterHidden];
  __shared__ float sLearned[kMaxBlockLength];
  const bool learned = p.strategy == kLearned;
  if (learned) {
    for (int j = threadIdx.x; j < st.filter.hidden; j += blockDim.x) {
      sHidden[j] = rule::filterHiddenUnit(st.filter, conf, masked, blockLength, j);
    }
    __syncthreads();
    for (int i = threadIdx.x; i < blockLength; i += blockDim.x) sLearned[i] = rule::filterLogit(st.filter, sHidden, i);
    __syncthreads();
  }
  rule::RowView view{conf, keys, masked, blockLength, learned ? sLearned : nullptr};
  for (int i = blockLength + threadIdx.x; i < blockStride; i += blockDim.x) st.committed[rowBase + i] = -1;
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

// CTAs per SM the register budget allows: greedy 16-bit logits fit in 40 registers (6 CTAs; a
// few bytes of spill, measured faster than 4 CTAs at 64 registers), float32 logits hold twice the
// registers of raw data (4 CTAs), sampling needs more for its hashing (2 CTAs).
// LL_COMMIT_MIN_CTAS overrides the greedy 16-bit figure for tuning builds (bench/kernel_ab).
#ifndef LL_COMMIT_MIN_CTAS
#define LL_COMMIT_MIN_CTAS 6
#endif
template <typename T, bool kSampling>
constexpr int minCtasPerSm() {
  return kSampling ? 2 : (sizeof(T) == 2 ? LL_COMMIT_MIN_CTAS : 4);
}

// One CTA per (row, block offset, vocabulary chunk). Rows carry their own parameters
// (params[b]): strategy, thresholds, temperature, block position and length, and where their
// block's logits start (logitsOffset). kSampling: some row of the launch samples (a row with
// temperature 0 still takes the greedy path, chosen per CTA, so mixed rows keep their bits).
template <typename T, bool kSampling>
__global__ void __launch_bounds__(kThreads, (minCtasPerSm<T, kSampling>()))
    commitStepKernel(const T* __restrict__ logits, int logitsPerRow, int blockStride, int vocab, int chunks,
                     int64_t* canvas, const RuleParams* __restrict__ params, StepState st,
                     ChunkResult* chunkScratch, uint32_t* positionArrivals) {
  const int chunk = blockIdx.x % chunks;
  const int q = blockIdx.x / chunks;  // b * blockStride + i
  const int b = q / blockStride;
  const int i = q % blockStride;
  const RuleParams& p = params[b];
  if (i >= p.blockLength) return;  // past this row's block: no position (uniform per CTA)
  const int64_t* canvasRow = canvas + (int64_t)b * p.canvasLength;
  const bool masked = canvasRow[p.blockStart + i] == p.maskId;
  const bool rowSamples = kSampling && p.temperature > 0.0f;

  // 1. Reduce this chunk (all threads take part; thread 0 holds the result).
  if (masked) {
    uint64_t base = 0;
    if (rowSamples) {
      uint64_t genPos = (uint64_t)(p.blockStart + i - p.genStart);
      base = rule::gumbelBase(rule::positionStream(st.seeds[b], (uint64_t)st.steps[b], genPos));
    }
    const int begin = chunk * rule::kVocabChunk;
    const int end = min(begin + rule::kVocabChunk, vocab);
    const T* row = logits + ((int64_t)b * logitsPerRow + p.logitsOffset + i) * vocab;
    ChunkResult r = rowSamples ? reduceChunk<T, kSampling>(row, begin, end, p, base)
                               : reduceChunk<T, false>(row, begin, end, p, base);
    if (threadIdx.x == 0) chunkScratch[(int64_t)q * chunks + chunk] = r;
  }

  // 2. The last chunk of the position combines.
  __shared__ bool sLast, sRowLast;
  if (threadIdx.x == 0) {
    __threadfence();
    sLast = atomicAdd(&positionArrivals[q], 1u) == (unsigned)(chunks - 1);
  }
  __syncthreads();
  if (!sLast) return;
  __threadfence();
  if (threadIdx.x < 32) {
    int32_t token = -1;
    float conf = 0.0f;
    if (masked) combineChunksWarp(chunkScratch + (int64_t)q * chunks, chunks, &token, &conf);
    if (threadIdx.x == 0) {
      positionArrivals[q] = 0;  // ready for the next launch
      st.conf[q] = conf;
      st.token[q] = token;
      __threadfence();
      // A second flag: other warps may still be reading sLast (no barrier since they did).
      sRowLast = atomicAdd(&st.arrivals[b], 1u) == (unsigned)(p.blockLength - 1);
    }
  }
  __syncthreads();
  if (!sRowLast) return;
  __threadfence();

  // 3. The last position of the row decides and commits.
  decideRow(b, blockStride, canvas, p, st);
}

template <typename T, bool kSampling>
cudaError_t launchTyped(const CommitLaunch& l, cudaStream_t stream) {
  const int chunks = commitChunkCount(l.vocab);
  const long long grid = (long long)l.batch * l.blockStride * chunks;
  const size_t shared = (size_t)l.blockStride * (sizeof(uint64_t) + sizeof(float) + sizeof(int32_t) + 1);
  commitStepKernel<T, kSampling><<<(unsigned)grid, kThreads, shared, stream>>>(
      static_cast<const T*>(l.logits), l.logitsPerRow, l.blockStride, l.vocab, chunks, l.canvas, l.params, l.state,
      l.chunks, l.positionArrivals);
  return cudaGetLastError();
}

}  // namespace

int commitChunkCount(int vocab) { return (vocab + rule::kVocabChunk - 1) / rule::kVocabChunk; }

cudaError_t launchCommitStep(const CommitLaunch& l, cudaStream_t stream) {
  if (l.batch <= 0 || l.blockStride <= 0 || l.blockStride > kMaxBlockLength || l.logitsPerRow <= 0 ||
      l.vocab <= 0 || l.vocab > kMaxVocab) {
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
