#include "decoder.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <sstream>

#include "../kernels/commit_kernel_limits.h"
#include "errors.h"

namespace localleap {
namespace {

using Clock = std::chrono::steady_clock;

double msSince(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

[[noreturn]] void invalid(const std::string& message) { throw EngineError(ErrorCode::kInvalidArgument, message); }

bool usesSchedule(Strategy s) { return s == kLowConfidence || s == kRandom; }

void checkProbability(float value, const char* name) {
  if (!std::isfinite(value) || value < 0.0f || value > 1.0f) {
    invalid(std::string(name) + " must be a number in [0, 1]");
  }
}

}  // namespace

void validateRequest(const GenerateRequest& r, const ModelConfig& c) {
  if (r.prompts.empty()) invalid("at least one prompt is needed");
  if (r.seeds.size() != r.prompts.size()) invalid("one seed per prompt is needed");
  if (r.genLength <= 0) invalid("genLength must be a positive integer");
  if (r.blockLength <= 0 || r.blockLength > kMaxBlockLengthLimit) {
    invalid("blockLength must be an integer in [1, " + std::to_string(kMaxBlockLengthLimit) + "]");
  }
  if (r.genLength % r.blockLength != 0) invalid("genLength must be a multiple of blockLength");
  const int numBlocks = r.genLength / r.blockLength;
  if (usesSchedule(r.strategy)) {
    if (r.steps < numBlocks || r.steps > r.genLength || r.steps % numBlocks != 0) {
      invalid("steps must be a multiple of genLength / blockLength (" + std::to_string(numBlocks) +
              ") between " + std::to_string(numBlocks) + " and genLength (" + std::to_string(r.genLength) + ")");
    }
  }
  checkProbability(r.threshold, "threshold");
  checkProbability(r.anchorThreshold, "anchorThreshold");
  checkProbability(r.relaxedThreshold, "relaxedThreshold");
  if (r.radius < 0) invalid("radius must be a non-negative integer");
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
  p.stepsPerBlock = usesSchedule(r.strategy) ? r.steps / (r.genLength / r.blockLength) : 0;
  p.topKOverride = 0;
  p.radius = r.radius;
  p.threshold = r.threshold;
  p.anchorThreshold = r.anchorThreshold;
  p.relaxedThreshold = r.relaxedThreshold;
  p.temperature = r.temperature;
  p.invTemperature = r.temperature > 0.0f ? 1.0f / r.temperature : 0.0f;
  p.numEndIds = (int32_t)c.endIds.size();
  for (int e = 0; e < p.numEndIds; ++e) p.endIds[e] = c.endIds[e];
  return p;
}

GenerateResult runDecode(StepBackend& backend, const ModelConfig& config, const GenerateRequest& request,
                         const StepObserver& observer, const std::atomic<bool>* abort,
                         const std::atomic<bool>* finish) {
  const auto t0 = Clock::now();
  validateRequest(request, config);
  const int batch = (int)request.prompts.size();
  int longest = 0;
  for (const auto& p : request.prompts) longest = std::max(longest, (int)p.size());
  const int genStart = longest;
  const int canvasLength = longest + request.genLength;
  const int lb = request.blockLength;

  // Canvas: [pad..., prompt, mask x G] per row; prompts left-padded to a common length.
  at::Tensor canvas = at::full({batch, canvasLength}, (int64_t)config.maskId, at::kLong);
  at::Tensor leftPad = at::zeros({batch}, at::kLong);
  bool padded = false;
  for (int b = 0; b < batch; ++b) {
    const auto& prompt = request.prompts[b];
    const int pad = longest - (int)prompt.size();
    padded = padded || pad > 0;
    leftPad[b] = (int64_t)pad;
    auto row = canvas[b];
    if (pad > 0) row.slice(0, 0, pad).fill_((int64_t)config.padId);
    auto* data = row.data_ptr<int64_t>();
    for (size_t i = 0; i < prompt.size(); ++i) data[pad + i] = prompt[i];
  }

  DecodeShape shape{batch, canvasLength, genStart, lb, padded, request.cache};
  backend.start(shape, canvas, leftPad, ruleParamsFor(request, config, canvasLength, genStart), request.seeds,
                request.cudaGraph);

  const int numBlocks = request.genLength / lb;
  const bool scheduled = usesSchedule(request.strategy);
  const int stepsPerBlock = scheduled ? request.steps / numBlocks : lb;
  GenerateResult result;
  result.rows.resize(batch);
  for (auto& row : result.rows) row.stepsPerBlock.assign(numBlocks, 0);
  std::vector<char> stopped(batch, 0);
  std::vector<int32_t> stepsBefore(batch, 0);
  double stepMs = 0;

  bool finished = false;  // the caller's finish flag ended the decode early
  for (int k = 0; k < numBlocks && !finished; ++k) {
    if (std::all_of(stopped.begin(), stopped.end(), [](char s) { return s != 0; })) break;
    const int blockStart = genStart + k * lb;
    backend.startBlock(blockStart);
    StepStatus status;
    for (int j = 0; j < stepsPerBlock; ++j) {
      if (abort && abort->load()) throw EngineError(ErrorCode::kAborted, "generation was aborted");
      if (finish && finish->load()) {
        finished = true;
        break;
      }
      // Every block starts with a full forward (which refreshes the cache); later steps use it.
      const StepKind kind = j == 0 || request.cache == CacheMode::kNone ? StepKind::kFull : StepKind::kCached;
      const auto s0 = Clock::now();
      backend.step(kind);
      status = backend.wait();
      const double ms = msSince(s0);
      stepMs += ms;
      if (kind == StepKind::kFull) {
        ++result.fullSteps;
        result.fullStepMs += ms;
      } else {
        ++result.cachedSteps;
        result.cachedStepMs += ms;
      }
      if (observer) {
        StepEvent event;
        event.step = result.batchSteps;
        event.block = k;
        event.rows.resize(batch);
        for (int b = 0; b < batch; ++b) {
          for (int i = 0; i < lb; ++i) {
            const int32_t token = status.committed[(size_t)b * lb + i];
            if (token < 0) continue;
            event.rows[b].positions.push_back(blockStart - genStart + i);
            event.rows[b].tokens.push_back(token);
          }
        }
        observer(std::move(event));
      }
      ++result.batchSteps;
      bool blockDone = true;
      for (int b = 0; b < batch; ++b) blockDone = blockDone && status.remaining[b] == 0;
      if (blockDone) break;
    }
    for (int b = 0; b < batch; ++b) {
      if (finished) {
        // Stopped mid-block: the block keeps its masks; count the steps it took (none when the
        // finish came before its first step).
        if (status.steps == nullptr) continue;
        result.rows[b].stepsPerBlock[k] = status.steps[b] - stepsBefore[b];
        result.rows[b].steps = std::max(result.rows[b].steps, status.steps[b]);
        continue;
      }
      if (status.remaining[b] != 0) {
        throw EngineError(ErrorCode::kInternal, "block " + std::to_string(k) + " of row " + std::to_string(b) +
                                                    " still has masks after its steps: this is a bug");
      }
      result.rows[b].stepsPerBlock[k] = status.steps[b] - stepsBefore[b];
      stepsBefore[b] = status.steps[b];
      result.rows[b].steps = status.steps[b];
      if (request.stopAtEos && !stopped[b] && status.endFound[b]) {
        stopped[b] = 1;
        if (blockStart + lb < canvasLength) backend.fillFrom(b, blockStart + lb, config.eosId);
      }
    }
  }

  at::Tensor finalCanvas = backend.finish().contiguous();
  if (finalCanvas.scalar_type() != at::kLong || finalCanvas.dim() != 2 || finalCanvas.size(0) != batch ||
      finalCanvas.size(1) != canvasLength) {
    throw EngineError(ErrorCode::kInternal, "the decoded canvas lost its shape: this is a bug");
  }
  for (int b = 0; b < batch; ++b) {
    const int64_t* data = finalCanvas[b].data_ptr<int64_t>();
    for (int i = genStart; i < canvasLength; ++i) {
      // Never narrow a token id silently: only the rule writes the canvas, and only ids < vocabSize.
      if (data[i] < 0 || data[i] >= config.vocabSize) {
        throw EngineError(ErrorCode::kInternal, "the decoded canvas holds token id " + std::to_string(data[i]) +
                                                    " outside [0, " + std::to_string(config.vocabSize) +
                                                    "): this is a bug");
      }
    }
    result.rows[b].tokens.assign(data + genStart, data + canvasLength);
  }
  result.stepMs = stepMs;
  result.cudaGraph = backend.usedCudaGraph();
  result.cudaGraphFallbackReason = backend.cudaGraphFallbackReason();
  result.totalMs = msSince(t0);
  return result;
}

}  // namespace localleap
