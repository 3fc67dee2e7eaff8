// Reading a localleap model archive (docs/model-format.md): the TorchScript module, its extra
// files, with byte-level progress and cancellation.
#pragma once
#include <torch/script.h>

#include <atomic>
#include <functional>
#include <string>
#include <vector>

namespace localleap {

struct LoadedArchive {
  torch::jit::Module module;
  std::string metadataJson;         // localleap.json, "" when absent
  std::string tokenizerJson;        // tokenizer.json, "" when absent
  std::string tokenizerConfigJson;  // tokenizer_config.json, "" when absent
  std::string learnedFilterJson;    // learned_filter.json (docs/decoding.md "Learned filter"), "" when absent
  uint64_t fileBytes = 0;
  std::vector<std::string> methods; // of forward, logits_at, logits_at_padded: those present
};

// Largest extra files read (docs/model-format.md): checked in the zip directory before anything is inflated.
constexpr uint64_t kMaxMetadataBytes = 1ull << 20;    // localleap.json
constexpr uint64_t kMaxLearnedFilterBytes = 1ull << 20;  // learned_filter.json
constexpr uint64_t kMaxTokenizerBytes = 64ull << 20;  // tokenizer.json, tokenizer_config.json

struct LoadOptions {
  // Skip the operator checks (code_scan.h, graph_check.h): the user trusts the file's author.
  bool trustModelCode = false;
};

// bytesRead, totalBytes; called from the loading thread.
using LoadProgressFn = std::function<void(uint64_t, uint64_t)>;

// Throws EngineError: MODEL_NOT_FOUND, MODEL_CORRUPT, MODEL_INCOMPATIBLE, MODEL_METHOD_MISSING,
// MODEL_UNSAFE, MODEL_METADATA_INVALID, TOKENIZER_INVALID, LEARNED_FILTER_INVALID (an extra file over its limit), ABORTED,
// OUT_OF_MEMORY.
LoadedArchive loadArchive(const std::string& path, const c10::Device& device, const LoadOptions& options,
                          const LoadProgressFn& progress, const std::atomic<bool>* abort);

}  // namespace localleap
