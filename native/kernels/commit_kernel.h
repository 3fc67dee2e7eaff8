// Launcher of the fused commit kernel: confidence and argmax per masked block position, the
// commit rule per row and the in-place commit, in one launch over the block's logits.
// Plain CUDA runtime types only, so this compiles without libtorch.
#pragma once
#include <cuda_runtime.h>
#include <stddef.h>

#include "commit_kernel_limits.h"
#include "rule_math.h"
#include "rule_types.h"

namespace localleap {

// Lets the A/B harness (bench/kernel_ab) build against this and the older one-RuleParams API.
#define LL_COMMIT_PER_ROW 1

enum class LogitsType { kFloat32, kBFloat16, kFloat16 };

struct CommitLaunch {
  const void* logits;            // [batch, logitsPerRow, vocab], contiguous
  LogitsType type;
  bool sampling;                 // some row has temperature > 0 (rows with 0 stay greedy)
  int batch;
  int blockStride;               // the largest params[b].blockLength: row stride of the [B*Lb] arrays
  int logitsPerRow;              // row b's block position i reads logits[b, params[b].logitsOffset + i]
  int vocab;
  int64_t* canvas;               // [batch, W] (W = params[b].canvasLength), updated in place
  const RuleParams* params;      // device memory, one per row
  StepState state;               // device or host-mapped pointers
  rule::ChunkResult* chunks;     // [batch * blockStride * commitChunkCount(vocab)] scratch
  uint32_t* positionArrivals;    // [batch * blockStride], zero before the first launch
};

int commitChunkCount(int vocab);

// Largest block length the kernel's row decision handles, and largest vocabulary.
constexpr int kMaxBlockLength = kMaxBlockLengthLimit;
constexpr int kMaxVocab = 64 * rule::kVocabChunk;  // 524288

// Queues the kernel on `stream`; returns the launch error, if any. Never synchronises.
cudaError_t launchCommitStep(const CommitLaunch& launch, cudaStream_t stream);

}  // namespace localleap
