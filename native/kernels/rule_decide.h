// The commit decision for one block position (docs/decoding.md, "The commit rule"), shared by the
// CPU engine (one loop over positions) and the CUDA kernel (one thread per position).
// One rule serves all five strategies: commit the top-k by key, plus every position whose
// confidence reaches its threshold.
#pragma once
#include "rule_math.h"
#include "rule_types.h"

namespace localleap {
namespace rule {

// One row of the current block, as the decision reads it.
struct RowView {
  const float* conf;     // [Lb]
  const uint64_t* key;   // [Lb] ordering key: float bits of conf, or the random-order key
  const uint8_t* masked; // [Lb]
  int blockLength;
  const float* learnedLogit;  // [Lb] strategy learned: the filter's logits (learned_filter.h), else null
};

LL_HD uint64_t confidenceKey(float conf) { return (uint64_t)floatToBits(conf); }

// How many positions this step commits by rank: the steps schedule for low-confidence and
// random, one for threshold, localleap and learned (which then add every position over its threshold).
// stepsPerBlock: s of this block (p.stepsPerBlock, or adaptiveStepsPerBlock at an adaptive first step).
LL_HD int rankQuotaFor(const RuleParams& p, int stepsPerBlock, int masks0, int blockStep) {
  if (p.strategy == kThreshold || p.strategy == kLocalLeap || p.strategy == kLearned) return 1;
  if (p.topKOverride > 0) return p.topKOverride;
  int s = stepsPerBlock > 0 ? stepsPerBlock : 1;
  int k = masks0 / s + (blockStep < masks0 % s ? 1 : 0);
  return k > 0 ? k : 1;
}

LL_HD int rankQuota(const RuleParams& p, int masks0, int blockStep) {
  return rankQuotaFor(p, p.stepsPerBlock, masks0, blockStep);
}

LL_HD bool isDelimiter(const RuleParams& p, int64_t token) {
  for (int d = 0; d < p.numDelimiterIds; ++d) {
    if (token == p.delimiterIds[d]) return true;
  }
  return false;
}

// AdaBlock's block length (docs/decoding.md "Adaptive blocks"), at a block's first step: among the
// masked offsets i < adaptiveWindow whose chosen token is a delimiter, the most confident (ties: the
// lowest offset); when its confidence >= delimiterThreshold the block is [0, i], else the fallback.
// conf, token, masked: the step's values per offset (at least adaptiveWindow of them).
LL_HD int adaptiveBlockLength(const RuleParams& p, const float* conf, const int32_t* token, const uint8_t* masked) {
  int best = -1;
  float bestConf = 0.0f;
  for (int i = 0; i < p.adaptiveWindow; ++i) {
    if (!masked[i] || !isDelimiter(p, token[i])) continue;
    if (best < 0 || conf[i] > bestConf) {
      best = i;
      bestConf = conf[i];
    }
  }
  if (best >= 0 && bestConf >= p.delimiterThreshold) return best + 1;
  return p.fallbackLength;
}

// Steps of an adaptive block of `length` positions for low-confidence and random:
// max(1, floor(length * steps / G)), at most length.
LL_HD int adaptiveStepsPerBlock(int length, int steps, int genLength) {
  long long s = genLength > 0 ? (long long)length * steps / genLength : 1;
  if (s < 1) s = 1;
  if (s > length) s = length;
  return (int)s;
}

// Rank among masked positions: higher key first, equal keys to the lower position.
LL_HD int rankOf(const RowView& row, int i) {
  int rank = 0;
  uint64_t ki = row.key[i];
  for (int j = 0; j < row.blockLength; ++j) {
    if (j == i || !row.masked[j]) continue;
    uint64_t kj = row.key[j];
    if (kj > ki || (kj == ki && j < i)) ++rank;
  }
  return rank;
}

// Whether some anchor (masked, conf >= kappa) lies within W block positions of i. Anchors are
// in the block, so only block positions can be within reach.
LL_HD bool nearAnchor(const RowView& row, int i, float kappa, int radius) {
  int lo = i - radius < 0 ? 0 : i - radius;
  int hi = i + radius > row.blockLength - 1 ? row.blockLength - 1 : i + radius;
  for (int j = lo; j <= hi; ++j) {
    if (row.masked[j] && row.conf[j] >= kappa) return true;
  }
  return false;
}

LL_HD bool decidePosition(const RowView& row, int i, const RuleParams& p, int quota) {
  if (!row.masked[i]) return false;
  if (rankOf(row, i) < quota) return true;
  float c = row.conf[i];
  switch (p.strategy) {
    case kThreshold:
      return c >= p.threshold;
    case kLocalLeap:
      // Near an anchor the relaxed bound applies; elsewhere (and with no anchor) only kappa.
      return c >= (nearAnchor(row, i, p.anchorThreshold, p.radius) ? p.relaxedThreshold
                                                                     : p.anchorThreshold);
    case kLearned:
      // sigmoid(logit) > t, as logit > log(t / (1 - t)): strict, as in Learn2PD's code.
      return row.learnedLogit[i] > p.logitThreshold;
    default:
      return false;
  }
}

LL_HD bool isEndToken(const RuleParams& p, int64_t token) {
  for (int e = 0; e < p.numEndIds; ++e) {
    if (token == p.endIds[e]) return true;
  }
  return false;
}

}  // namespace rule
}  // namespace localleap
