// What a generation asks for and what it returns, independent of the back end.
#pragma once
#include <stdint.h>

#include <functional>
#include <string>
#include <vector>

#include "../kernels/rule_types.h"

namespace localleap {

// The engine's limits on the metadata (docs/model-format.md; lib/metadata.ts checks them first).
constexpr int kMaxVocabSize = 1 << 30;
constexpr int kMaxModelLength = 1 << 24;  // maxLength: prompt + generation

// Fast-dLLM's KV caches (docs/decoding.md "KV cache"): none, the prefix before the block, or both
// sides of the block (dual).
enum class CacheMode { kNone, kPrefix, kDual };

// Format v2's kvCache: the cache tensor is [layers, 2, B, kvHeads, L, headDim] in the model's dtype.
struct CacheSpec {
  int layers = 0;  // 0: a format-v1 archive, no cache methods
  int kvHeads = 0;
  int headDim = 0;
  bool available() const { return layers > 0; }
};

// APD's causal LM (docs/decoding.md "APD"), loaded beside the dLLM: its metadata (kind causal)
// and the width V' of the logits APD mixes (the vocabulary check, done by the JS side at load).
struct ApdModelConfig {
  bool loaded = false;
  int vocabSize = 0;
  int eosId = 0;
  int maxLength = 0;
  int vocabWidth = 0;  // V' = min(dLLM vocabSize, AR vocabSize)
  CacheSpec cache;     // required: APD's AR calls are cache_full / cache_step
};

// The archive's learned_filter.json (docs/decoding.md "Learned filter"), validated: an MLP of
// blockLength -> hidden -> blockLength, row-major float32 (w1 [hidden][blockLength], w2
// [blockLength][hidden]). blockLength 0: the archive has none.
struct LearnedFilter {
  int blockLength = 0;
  int hidden = 0;
  std::vector<float> w1, b1, w2, b2;
  bool present() const { return blockLength > 0; }
  // A view of the host copy (the CPU rule reads it; the CUDA back end uploads it).
  LearnedFilterView hostView() const {
    return LearnedFilterView{w1.data(), b1.data(), w2.data(), b2.data(), blockLength, hidden};
  }
};

// The validated metadata the engine needs (docs/model-format.md).
struct ModelConfig {
  int vocabSize = 0;
  int maskId = 0;
  int eosId = 0;
  std::vector<int> endIds;
  int padId = 0;
  bool logitsShifted = false;
  int maxLength = 0;
  CacheSpec cache;
  ApdModelConfig ar;  // APD's causal LM; loaded = false without one
  // AdaBlock's delimiter tokens (localleap.json delimiterIds, optional): empty: no adaptive blocks.
  std::vector<int> delimiterIds;
  LearnedFilter learnedFilter;
};

// Smallest positive temperature: the rule samples with 1 / T in float32, infinite below ~2.9387e-39.
constexpr double kMinTemperature = 3e-39;

struct GenerateRequest {
  std::vector<std::vector<int32_t>> prompts;
  int genLength = 0;
  int blockLength = 0;
  Strategy strategy = kLocalLeap;
  int steps = 0;
  float threshold = 0.9f;
  float anchorThreshold = 0.9f;
  float relaxedThreshold = 0.75f;
  int radius = 4;
  double acceptThreshold = 0.96;  // strategy learned: t, in [0, 1]
  float temperature = 0.0f;
  std::vector<uint64_t> seeds;
  bool stopAtEos = false;
  // End-of-text prediction: the row stops once an end token is committed with every position before
  // it decoded (mid-block); the rest of the canvas becomes the EOS id.
  bool endOfText = false;
  bool cudaGraph = true;
  CacheMode cache = CacheMode::kNone;
  // Strategy kApd (docs/decoding.md "APD"): R, W (0: no dLLM KV cache), M.
  float mixtureWeight = 0.7f;
  int kvWindow = 16;
  int maxLookahead = 100;
  // AdaBlock's adaptive block length (docs/decoding.md "Adaptive blocks"): blockLength is then the
  // default length; the window and threshold are resolved by the JS side (defaults G / 4, metadata).
  bool adaptiveBlock = false;
  int adaptiveWindow = 0;
  float delimiterThreshold = 0.3f;
};

struct StepEvent {
  int step = 0;
  int block = 0;  // the block of the call's first row in this step (each row has its own below)
  struct Row {
    int block = 0;                   // this row's block (rows of a call move on independently)
    std::vector<int32_t> positions;  // generation-relative
    std::vector<int32_t> tokens;
  };
  std::vector<Row> rows;
};

using StepObserver = std::function<void(StepEvent&&)>;

struct RowResult {
  std::vector<int32_t> tokens;  // the whole generated span
  int steps = 0;
  std::vector<int32_t> stepsPerBlock;
  // APD rows: dLLM forwards (= steps), causal-LM forwards and each step's accepted tokens.
  bool apd = false;
  int dllmForwards = 0, arForwards = 0;
  std::vector<int32_t> acceptedPerStep;
  std::vector<int32_t> blockLengths;  // length of each block decoded (fixed blocks: blockLength each)
};

struct GenerateResult {
  std::vector<RowResult> rows;
  int batchSteps = 0;  // forwards the call took part in (shared with other calls' rows)
  double totalMs = 0;
  double stepMs = 0;
  // Block first steps (full forward) and cached steps, counted and timed apart.
  int fullSteps = 0, cachedSteps = 0;
  // Rows of every forward the call took part in, summed (its own and other calls' rows): / batchSteps
  // is the mean batch the call shared.
  int64_t rowsInForwards = 0;
  double fullStepMs = 0, cachedStepMs = 0;
  bool cudaGraph = false;
  std::string cudaGraphFallbackReason;
};

}  // namespace localleap
