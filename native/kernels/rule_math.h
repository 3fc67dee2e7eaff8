// Deterministic arithmetic of the commit rule, compiled for host and device from this one file.
// Every function here gives the same bits on the CPU and on the GPU: float ops are single
// IEEE operations or explicit fmaf (build with contraction off: -ffp-contract=off, nvcc
// --fmad=false), sums are exact int64 fixed point. See docs/decoding.md.
#pragma once
#include <math.h>
#include <stdint.h>
#include <string.h>

#ifdef __CUDACC__
#define LL_HD __host__ __device__ __forceinline__
#else
#define LL_HD inline
#endif

namespace localleap {
namespace rule {

// ---- counter-based random numbers (splitmix64 finaliser) ----
LL_HD uint64_t mix64(uint64_t z) {
  z += 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// The stream of one row at one of its steps and one generation position.
LL_HD uint64_t positionStream(uint64_t seed, uint64_t rowStep, uint64_t genPos) {
  return mix64(mix64(mix64(seed) + rowStep) + genPos);
}

LL_HD uint64_t randomOrderKey(uint64_t stream) { return mix64(stream ^ 0x52414E444F4D4B59ull); }

LL_HD uint64_t gumbelBase(uint64_t stream) { return mix64(stream ^ 0x47554D42454C2121ull); }

// (h >> 41) < 2^23, so the conversion, the +0.5 and the scaling by 2^-23 are all exact.
LL_HD float uniformOpen01(uint64_t h) { return ((float)(h >> 41) + 0.5f) * 1.1920928955078125e-07f; }

// ---- float helpers ----
LL_HD float bitsToFloat(uint32_t b) {
#ifdef __CUDA_ARCH__
  return __uint_as_float(b);
#else
  float f;
  memcpy(&f, &b, 4);
  return f;
#endif
}

LL_HD uint32_t floatToBits(float f) {
#ifdef __CUDA_ARCH__
  return __float_as_uint(f);
#else
  uint32_t b;
  memcpy(&b, &f, 4);
  return b;
#endif
}

// 2^e for e in [-126, 127], built from bits (no library call).
LL_HD float pow2f(int e) { return bitsToFloat((uint32_t)(e + 127) << 23); }

// NaN logits count as -inf (docs/decoding.md).
LL_HD float sanitizeLogit(float z) { return z != z ? -INFINITY : z; }

// ---- fixed-point softmax terms ----
constexpr int kFixedShift = 44;         // q(e) = trunc(e * 2^44): a chunk's sum stays below 2^57
constexpr float kExpCutoff = -31.0f;    // exp(-31) < 2^-44: such terms truncate to 0 anyway
constexpr int kVocabChunk = 8192;       // softmax sums are taken per chunk of the vocabulary

// exp(d) = p * 2^n for d in [-31, 0]: Cody-Waite reduction with a split ln2, Taylor polynomial
// of degree 7 (relative error < 1e-8 on |r| <= 0.35). n is in [-45, 0].
// n = rint(d / ln2) by the 1.5 * 2^23 trick: adding it rounds to the nearest integer, ties to even
// (the constant is even), exactly as rintf does for |x| < 2^22, and the sum's low mantissa bits
// are n itself. No conversion instruction: on the GPU those issue at 1/8 of the float rate.
constexpr float kRoundMagic = 12582912.0f;  // 1.5 * 2^23
LL_HD float expMantissa(float d, int* n) {
  const float scaled = d * 1.44269504088896341f;  // two statements: contraction stays off anyway
  const float shifted = scaled + kRoundMagic;
  const float fn = shifted - kRoundMagic;
  float r = fmaf(fn, -0.693145751953125f, d);
  r = fmaf(fn, -1.428606765330187e-06f, r);
  float p = 1.98412698e-4f;
  p = fmaf(p, r, 1.38888889e-3f);
  p = fmaf(p, r, 8.33333333e-3f);
  p = fmaf(p, r, 4.16666667e-2f);
  p = fmaf(p, r, 1.66666667e-1f);
  p = fmaf(p, r, 0.5f);
  p = fmaf(p, r, 1.0f);
  p = fmaf(p, r, 1.0f);
  *n = (int32_t)(floatToBits(shifted) - floatToBits(kRoundMagic));
  return p;
}

// trunc(exp(d) * 2^44) for d = z - M <= 0; 0 below the cutoff or for NaN.
// p is in [0.70, 1.42] and n + 44 in [-2, 44], so p * 2^(n+44) is an exact power-of-two scaling
// (a normal float below 2^45) and its truncation is the fixed-point term: one conversion.
// Selects instead of an early return: out-of-range d runs the polynomial at the cutoff and is
// zeroed, so the GPU needs no branch per logit and can interleave several logits' chains.
LL_HD int64_t fixedExp(float d) {
  const bool inRange = d >= kExpCutoff;  // false for NaN
  int n;
  const float p = expMantissa(inRange ? d : kExpCutoff, &n);
  const float term = p * pow2f(n + kFixedShift);
  return (int64_t)(inRange ? term : 0.0f);
}

// exp(d) in float for d <= 0; 0 below the cutoff or for NaN.
LL_HD float detExp(float d) {
  if (!(d >= kExpCutoff)) return 0.0f;
  int n;
  float p = expMantissa(d, &n);
  return p * pow2f(n);
}

// One vocabulary chunk of one position, reduced.
struct ChunkResult {
  float maxLogit;     // M_c
  float bestScore;    // logit (greedy) or Gumbel score (sampling) of the chunk's best token
  int32_t bestIndex;  // the chunk's best token (lowest index among equals)
  float bestLogit;    // its plain logit
  int64_t sum;        // S_c = sum of fixedExp(z - M_c) over the chunk
};

// A chunk's sum rescaled from its own max to the position's max M: trunc(S_c * exp(M_c - M)).
LL_HD int64_t rescaledChunkSum(int64_t chunkSum, float maxGap) {
  if (!(maxGap >= kExpCutoff)) return 0;
  return (int64_t)((double)chunkSum * (double)detExp(maxGap));
}

// The probability of the chosen token: its fixed-point term over the fixed-point sum.
LL_HD float confidenceOf(int64_t chosenTerm, int64_t sum) {
  return sum > 0 ? (float)((double)chosenTerm / (double)sum) : 0.0f;
}

// Natural log for finite x > 0 (normal), from frexp and an atanh series.
LL_HD float detLog(float x) {
  int e;
  float m = frexpf(x, &e);  // x = m * 2^e, m in [0.5, 1)
  if (m < 0.70710678f) {
    m = m * 2.0f;
    e = e - 1;
  }
  float f = m - 1.0f;         // exact (Sterbenz)
  float s = f / (m + 1.0f);   // |s| <= 0.172
  float s2 = s * s;
  float t = fmaf(s2, 0.222222222f, 0.285714286f);  // 2/9, 2/7
  t = fmaf(t, s2, 0.4f);                             // 2/5
  t = fmaf(t, s2, 0.666666667f);                     // 2/3
  t = t * s2;
  float logm = fmaf(s, t, s + s);                    // 2s + 2s^3/3 + ...
  float fe = (float)e;
  return fmaf(fe, 0.693145751953125f, fmaf(fe, 1.428606765330187e-06f, logm));
}

// Gumbel-perturbed score of token v: z / T + g, g = -log(-log(u)).
LL_HD float gumbelScore(float z, float invTemperature, uint64_t base, int64_t v) {
  float u = uniformOpen01(mix64(base + (uint64_t)v));
  float g = -detLog(-detLog(u));
  return fmaf(z, invTemperature, g);
}

// (value, index) argmax: higher value wins, equal values go to the lower index.
LL_HD bool betterCandidate(float value, int64_t index, float bestValue, int64_t bestIndex) {
  return value > bestValue || (value == bestValue && index < bestIndex);
}

// Combines the chunks of one position: the best token over all chunks, and its confidence
// fixedExp(z_t - M) / sum_c rescaledChunkSum(S_c, M_c - M). Integer sums make the result
// independent of the order in which chunks were reduced.
LL_HD void combineChunks(const ChunkResult* chunks, int count, int32_t* token, float* conf) {
  float maxLogit = -INFINITY;
  float bestScore = -INFINITY;
  int64_t bestIndex = INT64_MAX;
  float bestLogit = -INFINITY;
  for (int c = 0; c < count; ++c) {
    if (chunks[c].maxLogit > maxLogit) maxLogit = chunks[c].maxLogit;
    if (betterCandidate(chunks[c].bestScore, chunks[c].bestIndex, bestScore, bestIndex)) {
      bestScore = chunks[c].bestScore;
      bestIndex = chunks[c].bestIndex;
      bestLogit = chunks[c].bestLogit;
    }
  }
  int64_t sum = 0;
  for (int c = 0; c < count; ++c) sum += rescaledChunkSum(chunks[c].sum, chunks[c].maxLogit - maxLogit);
  *token = (int32_t)bestIndex;
  *conf = confidenceOf(fixedExp(bestLogit - maxLogit), sum);
}

}  // namespace rule
}  // namespace localleap
