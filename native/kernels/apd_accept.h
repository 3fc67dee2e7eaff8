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

// One drafted position's token to choose: its draft (za == nullptr: the dLLM's logits alone) or
// its target (the mixture of zd and za), each row of V' float32 logits, host or device memory.
struct TokenTask {
  const float* zd;
  const float* za;
  uint64_t base;  // noiseBase of the position (used when sampling)
};

// What the choice of every task of one step shares.
struct TokenRule {
  int32_t width;  // V'
  int32_t maskId;
  float r, q;     // R and 1 - R (float32)
  bool sampling;
  float invTemperature;
};

// The score of token v of a task: the draft rule over zd, or over the mixture of zd and za.
LL_HD float tokenScore(const TokenTask& t, const TokenRule& rule, int32_t v) {
  const float z = t.za == nullptr ? rule::sanitizeLogit(t.zd[v]) : mixture(t.zd[v], t.za[v], rule.r, rule.q);
  return score(z, rule.sampling, rule.invTemperature, t.base, v);
}

// The lowest index with the highest score over [0, width), the mask id excluded (-1: none). A
// parallel reduction with rule::betterCandidate from (-inf, kNoToken) gives the same token: the
// order is total on (score, index) and a score is never NaN (logits are sanitized, 1/T finite:
// validateRequest).
constexpr int64_t kNoToken = INT64_MAX;
LL_HD int32_t chooseToken(const TokenTask& t, const TokenRule& rule) {
  float best = -INFINITY;
  int64_t bestIndex = kNoToken;
  for (int32_t v = 0; v < rule.width; ++v) {
    if (v == rule.maskId) continue;
    const float s = tokenScore(t, rule, v);
    if (rule::betterCandidate(s, v, best, bestIndex)) {
      best = s;
      bestIndex = v;
    }
  }
  return bestIndex == kNoToken ? -1 : (int32_t)bestIndex;
}

// a = 1 + the number of consecutive positions after the first where draft == target (1 <= a <= n).
LL_HD int32_t acceptLength(const int32_t* draft, const int32_t* target, int32_t n) {
  int32_t a = 1;
  while (a < n && draft[a] == target[a]) ++a;
  return a;
}

}  // namespace apd
}  // namespace localleap
