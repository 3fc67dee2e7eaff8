#include "decoder.h"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "../kernels/commit_kernel_limits.h"
#include "errors.h"

namespace localleap {
namespace {

[[noreturn]] void invalid(const std::string& message) { throw EngineError(ErrorCode::kInvalidArgument, message); }

bool usesSchedule(Strategy s) { return s == kLowConfidence || s == kRandom; }

void checkProbability(float value, const char* name) {
  if (!std::isfinite(value) || value < 0.0f || value > 1.0f) {
    invalid(std::string(name) + " must be a number in [0, 1]");
  }
}

// Adaptive blocks (docs/decoding.md "Adaptive blocks"): genLength need not be a multiple of
// blockLength; steps (low-confidence, random) is any count in [1, genLength].
void validateAdaptive(const GenerateRequest& r, const ModelConfig& c) {
  if (c.delimiterIds.empty()) {
    throw EngineError(ErrorCode::kAdaptiveBlockUnsupported,
                      "adaptiveBlock needs the model's delimiter tokens (localleap.json delimiterIds), which this "
                      "archive does not have: re-export it with tools/export.py or tools/export_hf.py");
  }
  if ((int)c.delimiterIds.size() > kMaxDelimiterIds) invalid("a model may have at most 8 delimiter ids");
  if (r.adaptiveWindow < 1 || r.adaptiveWindow > kMaxBlockLengthLimit) {
    invalid("adaptiveBlock.window must be an integer in [1, " + std::to_string(kMaxBlockLengthLimit) + "]");
  }
  checkProbability(r.delimiterThreshold, "adaptiveBlock.delimiterThreshold");
  if (usesSchedule(r.strategy) && (r.steps < 1 || r.steps > r.genLength)) {
    invalid("with adaptiveBlock, steps must be an integer between 1 and genLength (" + std::to_string(r.genLength) +
            ")");
  }
  if (r.cache != CacheMode::kNone && r.prompts.size() > 1) {
    invalid("adaptiveBlock with cache '" + std::string(r.cache == CacheMode::kPrefix ? "prefix" : "dual") +
            "' takes one prompt per call (the rows of a cached call share their block columns): pass the prompts "
            "in separate calls, or use cache 'none'");
  }
}

}  // namespace

float learnedLogitThreshold(double t) {
  if (t >= 1.0) return INFINITY;
  if (t <= 0.0) return -INFINITY;
  return (float)std::log(t / (1.0 - t));
}

void validateRequest(const GenerateRequest& r, const ModelConfig& c) {
  if (r.prompts.empty()) invalid("at least one prompt is needed");
  if (r.seeds.size() != r.prompts.size()) invalid("one seed per prompt is needed");
  if (r.genLength <= 0) invalid("genLength must be a positive integer");
  // APD has one block, the generation span (apd_step.cc checks it); the kernel's limit is the block rule's.
  if (r.blockLength <= 0 || (r.strategy != kApd && r.blockLength > kMaxBlockLengthLimit)) {
    invalid("blockLength must be an integer in [1, " + std::to_string(kMaxBlockLengthLimit) + "]");
  }
  // APD's accept rule decides how far each step goes in its one block: no block length to adapt.
  if (r.strategy == kApd && r.adaptiveBlock) {
    invalid("adaptiveBlock does not apply to strategy apd, which decodes left to right in one block");
  }
  if (r.adaptiveBlock) {
    validateAdaptive(r, c);
  } else if (r.genLength % r.blockLength != 0) {
    invalid("genLength must be a multiple of blockLength");
  }
  const int numBlocks = r.genLength / r.blockLength;
  if (usesSchedule(r.strategy) && !r.adaptiveBlock) {
    if (r.steps < numBlocks || r.steps > r.genLength || r.steps % numBlocks != 0) {
      invalid("steps must be a multiple of genLength / blockLength (" + std::to_string(numBlocks) +
              ") between " + std::to_string(numBlocks) + " and genLength (" + std::to_string(r.genLength) + ")");
    }
  }
  checkProbability(r.threshold, "threshold");
  checkProbability(r.anchorThreshold, "anchorThreshold");
  checkProbability(r.relaxedThreshold, "relaxedThreshold");
  if (r.radius < 0) invalid("radius must be a non-negative integer");
  if (r.strategy == kLearned) {
    if (!std::isfinite(r.acceptThreshold) || r.acceptThreshold < 0.0 || r.acceptThreshold > 1.0) {
      invalid("acceptThreshold must be a number in [0, 1]");
    }
    if (!c.learnedFilter.present()) {
      throw EngineError(ErrorCode::kLearnedFilterMissing,
                        "strategy 'learned' needs a learned filter, and this archive has no learned_filter.json. "
                        "Train one with tools/train_filter.py and add it with tools/add_filter.py "
                        "(docs/decoding.md \"Learned filter\"), or use another strategy.");
    }
    if (r.blockLength > c.learnedFilter.blockLength) {
      invalid("blockLength " + std::to_string(r.blockLength) + " is longer than the block length the model's learned "
              "filter was trained for (" + std::to_string(c.learnedFilter.blockLength) +
              "): use blockLength <= " + std::to_string(c.learnedFilter.blockLength) + " with strategy 'learned'");
    }
    // An adaptive block can end anywhere in its window: the filter must cover all of it.
    if (r.adaptiveBlock && r.adaptiveWindow > c.learnedFilter.blockLength) {
      invalid("adaptiveBlock.window " + std::to_string(r.adaptiveWindow) + " is longer than the block length the "
              "model's learned filter was trained for (" + std::to_string(c.learnedFilter.blockLength) +
              "): use a window <= " + std::to_string(c.learnedFilter.blockLength) + " with strategy 'learned'");
    }
  }
  if (!std::isfinite(r.temperature) || r.temperature < 0.0f) invalid("temperature must be a finite number >= 0");
  // The rule samples with 1 / temperature in float32 (rule_math.h): it must be finite.
  if (r.temperature > 0.0f && !std::isfinite(1.0f / r.temperature)) {
    invalid("temperature must be 0 (greedy) or at least 3e-39 (1 / temperature must be finite in float32)");
  }
  if ((int)c.endIds.size() > kMaxEndIds) invalid("a model may have at most 8 end ids");
  if (r.cache != CacheMode::kNone && !c.cache.available()) {
    throw EngineError(ErrorCode::kCacheUnsupported,
                      "this archive is model format v1, which has no KV-cache methods: it runs with cache 'none' "
                      "only. Re-export it with tools/export.py or tools/export_hf.py (format v2) to use cache "
                      "'prefix' or 'dual'.");
  }
  for (size_t b = 0; b < r.prompts.size(); ++b) {
    const auto& prompt = r.prompts[b];
    if (prompt.empty()) invalid("prompt " + std::to_string(b) + " is empty: a prompt needs at least one token");
    for (int32_t id : prompt) {
      if (id < 0 || id >= c.vocabSize) {
        invalid("prompt " + std::to_string(b) + " has token id " + std::to_string(id) + " outside [0, " +
                std::to_string(c.vocabSize) + ")");
      }
      if (id == c.maskId) {
        invalid("prompt " + std::to_string(b) + " contains the mask id " + std::to_string(c.maskId) +
                ": prompts must not contain masks");
      }
    }
    const long long total = (long long)prompt.size() + r.genLength;
    if (total > c.maxLength) {
      throw EngineError(ErrorCode::kPromptTooLong,
                        "prompt " + std::to_string(b) + " has " + std::to_string(prompt.size()) +
                            " tokens; with genLength " + std::to_string(r.genLength) + " that is " +
                            std::to_string(total) + " positions, over the model's maxLength " +
                            std::to_string(c.maxLength) + ". Shorten the prompt by " +
                            std::to_string(total - c.maxLength) + " tokens or lower genLength.");
    }
  }
}

RuleParams ruleParamsFor(const GenerateRequest& r, const ModelConfig& c, int canvasLength, int genStart) {
  RuleParams p{};
  p.strategy = r.strategy;
  p.maskId = c.maskId;
  p.canvasLength = canvasLength;
  p.genStart = genStart;
  p.blockStart = genStart;
  p.blockLength = r.blockLength;
  p.logitsOffset = 0;
  p.stepsPerBlock = usesSchedule(r.strategy) && !r.adaptiveBlock ? r.steps / (r.genLength / r.blockLength) : 0;
  p.topKOverride = 0;
  p.radius = r.radius;
  p.threshold = r.threshold;
  p.anchorThreshold = r.anchorThreshold;
  p.relaxedThreshold = r.relaxedThreshold;
  p.temperature = r.temperature;
  p.invTemperature = r.temperature > 0.0f ? 1.0f / r.temperature : 0.0f;
  p.numEndIds = (int32_t)c.endIds.size();
  for (int e = 0; e < p.numEndIds; ++e) p.endIds[e] = c.endIds[e];
  // Adaptive blocks: adaptiveWindow, fallbackLength and stepsPerBlock are set per block by the scheduler.
  p.adaptiveWindow = 0;
  p.fallbackLength = r.blockLength;
  p.scheduleSteps = r.steps;
  p.genLength = r.genLength;
  p.delimiterThreshold = r.delimiterThreshold;
  p.numDelimiterIds = 0;
  if (r.adaptiveBlock) {
    p.numDelimiterIds = (int32_t)std::min<size_t>(c.delimiterIds.size(), kMaxDelimiterIds);
    for (int d = 0; d < p.numDelimiterIds; ++d) p.delimiterIds[d] = c.delimiterIds[d];
  }
  p.logitThreshold = learnedLogitThreshold(r.acceptThreshold);
  return p;
}

}  // namespace localleap
