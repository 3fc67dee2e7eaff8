#include "rule_cpu.h"

#include <ATen/Parallel.h>

#include <vector>

#include "../kernels/learned_filter.h"
#include "../kernels/rule_decide.h"

namespace localleap {
namespace {

using rule::ChunkResult;

// Sequential reduction of one vocabulary chunk; the CUDA kernel reduces the same chunk in
// parallel and, by construction of rule_math.h, gets the same ChunkResult.
ChunkResult reduceChunk(const float* row, int begin, int end, const RuleParams& p,
                        uint64_t gumbelBase) {
  ChunkResult r{-INFINITY, -INFINITY, INT32_MAX, -INFINITY, 0};
  const bool sampling = p.temperature > 0.0f;
  for (int v = begin; v < end; ++v) {
    float z = rule::sanitizeLogit(row[v]);
    if (z > r.maxLogit) r.maxLogit = z;
    if (v == p.maskId) continue;  // never chosen; still in the max and the sum
    float score = sampling ? rule::gumbelScore(z, p.invTemperature, gumbelBase, v) : z;
    if (rule::betterCandidate(score, v, r.bestScore, r.bestIndex)) {
      r.bestScore = score;
      r.bestIndex = v;
      r.bestLogit = z;
    }
  }
  for (int v = begin; v < end; ++v) r.sum += rule::fixedExp(rule::sanitizeLogit(row[v]) - r.maxLogit);
  return r;
}

void choosePosition(const float* row, int vocab, const RuleParams& p, uint64_t gumbelBase,
                    int32_t* token, float* conf) {
  const int chunks = (vocab + rule::kVocabChunk - 1) / rule::kVocabChunk;
  std::vector<ChunkResult> results(chunks);
  for (int c = 0; c < chunks; ++c) {
    int begin = c * rule::kVocabChunk;
    int end = begin + rule::kVocabChunk < vocab ? begin + rule::kVocabChunk : vocab;
    results[c] = reduceChunk(row, begin, end, p, gumbelBase);
  }
  rule::combineChunks(results.data(), chunks, token, conf);
}

void decideRow(int b, int blockStride, int64_t* canvasRow, const RuleParams& p,
               const StepState& st) {
  const int span = p.blockLength;  // positions computed this step
  std::vector<uint8_t> masked(span);
  std::vector<uint64_t> keys(span);
  const float* conf = st.conf + (int64_t)b * blockStride;
  const int32_t* token = st.token + (int64_t)b * blockStride;
  for (int i = 0; i < span; ++i) {
    masked[i] = canvasRow[p.blockStart + i] == p.maskId;
    if (p.strategy == kRandom) {
      uint64_t genPos = (uint64_t)(p.blockStart + i - p.genStart);
      keys[i] = rule::randomOrderKey(rule::positionStream(st.seeds[b], (uint64_t)st.steps[b], genPos));
    } else {
      keys[i] = rule::confidenceKey(conf[i]);
    }
  }
  // An adaptive block's first step decides its length; the positions past it are not in the block.
  const bool decideLength = p.adaptiveWindow > 0 && st.blockSteps[b] == 0;
  const int blockLength = decideLength ? rule::adaptiveBlockLength(p, conf, token, masked.data()) : span;
  const int stepsPerBlock =
      decideLength ? rule::adaptiveStepsPerBlock(blockLength, p.scheduleSteps, p.genLength) : p.stepsPerBlock;
  st.blockLengthOut[b] = blockLength;
  int maskedCount = 0;
  for (int i = 0; i < blockLength; ++i) maskedCount += masked[i];
  if (st.blockSteps[b] == 0) st.blockMasks0[b] = maskedCount;
  const int quota = rule::rankQuotaFor(p, stepsPerBlock, st.blockMasks0[b], st.blockSteps[b]);
  std::vector<float> learned;
  if (p.strategy == kLearned) {
    // The filter over the whole block: hidden units first, then one logit per block position.
    const LearnedFilterView& f = st.filter;
    std::vector<float> hidden(f.hidden);
    for (int j = 0; j < f.hidden; ++j) hidden[j] = rule::filterHiddenUnit(f, conf, masked.data(), blockLength, j);
    learned.resize(blockLength);
    for (int i = 0; i < blockLength; ++i) learned[i] = rule::filterLogit(f, hidden.data(), i);
  }
  rule::RowView view{conf, keys.data(), masked.data(), blockLength, learned.empty() ? nullptr : learned.data()};

  int committedCount = 0;
  int32_t* committed = st.committed + (int64_t)b * blockStride;
  for (int i = blockLength; i < blockStride; ++i) committed[i] = -1;
  for (int i = 0; i < blockLength; ++i) {
    committed[i] = -1;
    if (rule::decidePosition(view, i, p, quota)) {
      committed[i] = token[i];
      ++committedCount;
    }
  }
  bool endInBlock = false;
  for (int i = 0; i < blockLength; ++i) {
    if (committed[i] >= 0) canvasRow[p.blockStart + i] = committed[i];
    endInBlock = endInBlock || rule::isEndToken(p, canvasRow[p.blockStart + i]);
  }
  if (maskedCount > 0) {
    st.steps[b] += 1;
    st.blockSteps[b] += 1;
  }
  st.remaining[b] = maskedCount - committedCount;
  if (maskedCount > 0 && st.remaining[b] == 0 && endInBlock) st.endFound[b] = 1;
  st.stepsOut[b] = st.steps[b];
}

}  // namespace

void applyRuleCpu(const float* logits, int batch, int logitsPerRow, int blockStride, int vocab, int64_t* canvas,
                  const RuleParams* params, const StepState& st) {
  const int64_t positions = (int64_t)batch * blockStride;
  at::parallel_for(0, positions, 1, [&](int64_t begin, int64_t end) {
    for (int64_t q = begin; q < end; ++q) {
      const int b = (int)(q / blockStride);
      const int i = (int)(q % blockStride);
      const RuleParams& p = params[b];
      const int64_t* canvasRow = canvas + (int64_t)b * p.canvasLength;
      if (i >= p.blockLength || canvasRow[p.blockStart + i] != p.maskId) {
        st.conf[q] = 0.0f;
        st.token[q] = -1;
        continue;
      }
      uint64_t base = 0;
      if (p.temperature > 0.0f) {
        uint64_t genPos = (uint64_t)(p.blockStart + i - p.genStart);
        base = rule::gumbelBase(rule::positionStream(st.seeds[b], (uint64_t)st.steps[b], genPos));
      }
      const float* row = logits + ((int64_t)b * logitsPerRow + p.logitsOffset + i) * vocab;
      choosePosition(row, vocab, p, base, st.token + q, st.conf + q);
    }
  });
  for (int b = 0; b < batch; ++b) decideRow(b, blockStride, canvas + (int64_t)b * params[b].canvasLength, params[b], st);
}

}  // namespace localleap
