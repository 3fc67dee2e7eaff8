// APD's accept rule (docs/decoding.md "APD", steps 3, 5, 6): the draft from the dLLM's logits, the
// target from the mixture of the two models' logits with the draft's own Gumbel noise, and the
// longest agreeing prefix. Host and device from this one file (rule_math.h's arithmetic), so every
// back end chooses the same tokens bit for bit; tools/localleap/apd_reference.py is its reference.
#pragma once
#include "rule_math.h"

namespace localleap {
namespace apd {

// The Gumbel base of one drafted position: (seed, the row's step r, generation position d - P).
LL_HD uint64_t noiseBase(uint64_t seed, uint64_t rowStep, uint64_t genPos) {
  return rule::gumbelBase(rule::positionStream(seed, rowStep, genPos));
}

// The score of token v of a sanitized logit z: z (greedy) or fmaf(z, 1/T, g_v).
LL_HD float score(float z, bool sampling, float invTemperature, uint64_t base, int64_t v) {
  return sampling ? rule::gumbelScore(z, invTemperature, base, v) : z;
}

// The mixture y_v = fmaf(r, zD_v, q * zA_v) (q = 1 - r in float32): zD exactly when r = 1, zA when
// r = 0; NaN counts as -inf before and after.
LL_HD float mixture(float zd, float za, float r, float q) {
  zd = rule::sanitizeLogit(zd);
  za = rule::sanitizeLogit(za);
  if (r == 1.0f) return zd;
  if (r == 0.0f) return za;
  const float scaled = q * za;
  return rule::sanitizeLogit(fmaf(r, zd, scaled));
}

// The lowest index with the highest score over [0, width), the mask id excluded.
LL_HD int32_t draftToken(const float* z, int32_t width, int32_t maskId, bool sampling, float invTemperature,
                         uint64_t base) {
  float best = -INFINITY;
  int64_t bestIndex = -1;
  for (int32_t v = 0; v < width; ++v) {
    if (v == maskId) continue;
    const float s = score(rule::sanitizeLogit(z[v]), sampling, invTemperature, base, v);
    if (bestIndex < 0 || rule::betterCandidate(s, v, best, bestIndex)) {
      best = s;
      bestIndex = v;
    }
  }
  return (int32_t)bestIndex;
}

// The target token of one position: the draft rule over the mixture of zd and za.
LL_HD int32_t targetToken(const float* zd, const float* za, int32_t width, int32_t maskId, float r, float q,
                          bool sampling, float invTemperature, uint64_t base) {
  float best = -INFINITY;
  int64_t bestIndex = -1;
  for (int32_t v = 0; v < width; ++v) {
    if (v == maskId) continue;
    const float s = score(mixture(zd[v], za[v], r, q), sampling, invTemperature, base, v);
    if (bestIndex < 0 || rule::betterCandidate(s, v, best, bestIndex)) {
      best = s;
      bestIndex = v;
    }
  }
  return (int32_t)bestIndex;
}

// a = 1 + the number of consecutive positions after the first where draft == target (1 <= a <= n).
LL_HD int32_t acceptLength(const int32_t* draft, const int32_t* target, int32_t n) {
  int32_t a = 1;
  while (a < n && draft[a] == target[a]) ++a;
  return a;
}

}  // namespace apd
}  // namespace localleap
