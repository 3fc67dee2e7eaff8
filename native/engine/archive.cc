#include "archive.h"

#include <caffe2/serialize/file_adapter.h>
#include <caffe2/serialize/read_adapter_interface.h>
#include <sys/stat.h>

#include <cstring>
#include <mutex>

#include "code_scan.h"
#include "errors.h"
#include "graph_check.h"
#include "zip_directory.h"

namespace localleap {
namespace {

const char* const kRequiredMethods[] = {"forward", "logits_at", "logits_at_padded"};

// Counts the bytes libtorch reads so that loading can report progress (records are read once
// each, so the count reaches the file size) and stops between reads when aborted.
class ProgressReadAdapter : public caffe2::serialize::ReadAdapterInterface {
 public:
  ProgressReadAdapter(const std::string& path, LoadProgressFn progress, const std::atomic<bool>* abort)
      : file_(path), progress_(std::move(progress)), abort_(abort) {}

  size_t size() const override { return file_.size(); }

  size_t read(uint64_t pos, void* buf, size_t n, const char* what) const override {
    if (abort_ && abort_->load()) throw EngineError(ErrorCode::kAborted, "model loading was aborted");
    size_t got = file_.read(pos, buf, n, what);
    std::lock_guard<std::mutex> lock(mutex_);
    read_ += got;
    // Report at most every 1% (or at the end) to keep the JS side cheap.
    const uint64_t total = file_.size();
    if (progress_ && (read_ >= reported_ + total / 100 || read_ >= total)) {
      reported_ = read_;
      progress_(read_ < total ? read_ : total, total);
    }
    return got;
  }

 private:
  caffe2::serialize::FileAdapter file_;
  LoadProgressFn progress_;
  const std::atomic<bool>* abort_;
  mutable std::mutex mutex_;
  mutable uint64_t read_ = 0;
  mutable uint64_t reported_ = 0;
};

bool contains(const std::string& haystack, const char* needle) {
  return haystack.find(needle) != std::string::npos;
}

// libtorch's messages for the usual ways an archive is unusable, turned into advice.
EngineError classifyLoadFailure(const std::string& path, const std::string& message) {
  if (contains(message, "Unknown builtin op") || contains(message, "Unknown type name") ||
      contains(message, "version_")) {
    return EngineError(ErrorCode::kModelIncompatible,
                       "model file '" + path + "' needs a newer libtorch than this build has (" + message +
                           "). Re-export it with this torch (tools/export.py --attention manual) or use a "
                           "localleap binary built against a newer libtorch.");
  }
  return EngineError(ErrorCode::kModelCorrupt,
                     "model file '" + path + "' is not a readable TorchScript archive (" + message +
                         "). It may be truncated or not a localleap model: re-export it with tools/export.py.");
}

// Refuses extra files over their limit before libtorch allocates and inflates them (every
// entry of the name: a forged directory may repeat one).
void checkExtraFileSizes(const std::string& path, const std::vector<ZipEntry>& entries) {
  struct Limit {
    const char* record;
    const char* file;
    uint64_t bytes;
    ErrorCode code;
  };
  const Limit limits[] = {
      {"extra/localleap.json", "localleap.json", kMaxMetadataBytes, ErrorCode::kModelMetadataInvalid},
      {"extra/tokenizer.json", "tokenizer.json", kMaxTokenizerBytes, ErrorCode::kTokenizerInvalid},
      {"extra/tokenizer_config.json", "tokenizer_config.json", kMaxTokenizerBytes, ErrorCode::kTokenizerInvalid},
      {"extra/learned_filter.json", "learned_filter.json", kMaxLearnedFilterBytes, ErrorCode::kLearnedFilterInvalid},
  };
  for (const ZipEntry& e : entries) {
    const std::string record = recordName(e.name);
    for (const Limit& limit : limits) {
      if (record != limit.record || e.uncompressedSize <= limit.bytes) continue;
      throw EngineError(limit.code,
                        "model file '" + path + "': its " + limit.file + " is " + std::to_string(e.uncompressedSize) +
                            " bytes, over the limit of " + std::to_string(limit.bytes >> 20) +
                            " MiB (docs/model-format.md). Re-export the model with tools/export.py.",
                        limit.file);
    }
  }
}

}  // namespace

LoadedArchive loadArchive(const std::string& path, const c10::Device& device, const LoadOptions& options,
                          const LoadProgressFn& progress, const std::atomic<bool>* abort) {
  struct stat info;
  if (stat(path.c_str(), &info) != 0) {
    throw EngineError(ErrorCode::kModelNotFound,
                      "model file '" + path + "' does not exist or cannot be read (" + std::strerror(errno) + ")");
  }
  if (!S_ISREG(info.st_mode)) {
    throw EngineError(ErrorCode::kModelNotFound, "model path '" + path + "' is not a regular file");
  }

  // Before torch::jit::load, which inflates the extra files and runs the code's __setstate__.
  const std::vector<ZipEntry> entries = readZipDirectory(path);
  checkExtraFileSizes(path, entries);
  if (!options.trustModelCode) {
    try {
      scanArchiveCode(path, entries);
    } catch (const EngineError&) {
      throw;
    } catch (const c10::Error& e) {
      throw classifyLoadFailure(path, e.what_without_backtrace());
    }
  }

  LoadedArchive archive;
  archive.fileBytes = (uint64_t)info.st_size;
  torch::jit::ExtraFilesMap extra{{"localleap.json", ""},
                                  {"tokenizer.json", ""},
                                  {"tokenizer_config.json", ""},
                                  {"learned_filter.json", ""}};
  try {
    auto adapter = std::make_shared<ProgressReadAdapter>(path, progress, abort);
    archive.module = torch::jit::load(adapter, device, extra);
  } catch (const EngineError&) {
    throw;
  } catch (const c10::OutOfMemoryError&) {
    throw currentErrorAsEngineError("loading the model");
  } catch (const std::bad_alloc&) {
    throw currentErrorAsEngineError("loading the model");
  } catch (const c10::Error& e) {
    throw classifyLoadFailure(path, e.what_without_backtrace());
  } catch (const std::exception& e) {
    throw classifyLoadFailure(path, e.what());
  }
  if (!options.trustModelCode) {
    try {
      checkModuleOperators(archive.module, path);
    } catch (const EngineError&) {
      throw;
    } catch (const std::exception& e) {
      throw EngineError(ErrorCode::kModelUnsafe,
                        "model file '" + path + "': its operators could not be checked (" + e.what() +
                            "); load it with trustModelCode: true only if you trust the file's author.",
                        "graph");
    }
  }
  archive.module.eval();
  archive.metadataJson = extra["localleap.json"];
  archive.tokenizerJson = extra["tokenizer.json"];
  archive.tokenizerConfigJson = extra["tokenizer_config.json"];
  archive.learnedFilterJson = extra["learned_filter.json"];

  std::string missing;
  for (const char* name : kRequiredMethods) {
    if (archive.module.find_method(name)) {
      archive.methods.emplace_back(name);
    } else {
      missing += missing.empty() ? name : std::string(", ") + name;
    }
  }
  if (!missing.empty()) {
    throw EngineError(ErrorCode::kModelMethodMissing,
                      "model file '" + path + "' lacks the method(s) " + missing +
                          " that localleap needs (docs/model-format.md). Export it with tools/export.py.");
  }
  return archive;
}

}  // namespace localleap
