#include "errors.h"

#include <c10/util/Exception.h>

#include <new>
#include <system_error>

namespace localleap {

const char* errorCodeName(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument: return "INVALID_ARGUMENT";
    case ErrorCode::kModelNotFound: return "MODEL_NOT_FOUND";
    case ErrorCode::kModelCorrupt: return "MODEL_CORRUPT";
    case ErrorCode::kModelIncompatible: return "MODEL_INCOMPATIBLE";
    case ErrorCode::kModelMethodMissing: return "MODEL_METHOD_MISSING";
    case ErrorCode::kModelProbeFailed: return "MODEL_PROBE_FAILED";
    case ErrorCode::kModelUnsafe: return "MODEL_UNSAFE";
    case ErrorCode::kModelMetadataInvalid: return "MODEL_METADATA_INVALID";
    case ErrorCode::kTokenizerInvalid: return "TOKENIZER_INVALID";
    case ErrorCode::kPromptTooLong: return "PROMPT_TOO_LONG";
    case ErrorCode::kCacheUnsupported: return "CACHE_UNSUPPORTED";
    case ErrorCode::kAdaptiveBlockUnsupported: return "ADAPTIVE_BLOCK_UNSUPPORTED";
    case ErrorCode::kLearnedFilterInvalid: return "LEARNED_FILTER_INVALID";
    case ErrorCode::kLearnedFilterMissing: return "LEARNED_FILTER_MISSING";
    case ErrorCode::kCudaUnavailable: return "CUDA_UNAVAILABLE";
    case ErrorCode::kOutOfMemory: return "OUT_OF_MEMORY";
    case ErrorCode::kResourceExhausted: return "RESOURCE_EXHAUSTED";
    case ErrorCode::kAborted: return "ABORTED";
    case ErrorCode::kModelDisposed: return "MODEL_DISPOSED";
    case ErrorCode::kInternal: return "INTERNAL";
  }
  return "INTERNAL";
}

EngineError currentErrorAsEngineError(const char* what) {
  const std::string prefix = std::string(what) + ": ";
  try {
    throw;
  } catch (const EngineError& e) {
    return e;
  } catch (const c10::OutOfMemoryError& e) {
    return EngineError(ErrorCode::kOutOfMemory,
                       prefix + "out of memory (" + e.what_without_backtrace() +
                           "). Use a shorter genLength or prompt, a smaller batch, or free memory.");
  } catch (const std::bad_alloc&) {
    return EngineError(ErrorCode::kOutOfMemory,
                       prefix + "out of host memory. Use a shorter genLength, a smaller batch, or free memory.");
  } catch (const std::system_error& e) {
    // std::thread's failure: the OS is out of threads (ulimit -u, cgroup pids.max) or memory for stacks.
    return EngineError(ErrorCode::kResourceExhausted,
                       prefix + "the system refused a thread or another resource (" + e.what() +
                           "). Dispose models you no longer use, or raise the process/thread limits.");
  } catch (const c10::Error& e) {
    return EngineError(ErrorCode::kInternal, prefix + e.what_without_backtrace());
  } catch (const std::exception& e) {
    return EngineError(ErrorCode::kInternal, prefix + e.what());
  } catch (...) {
    return EngineError(ErrorCode::kInternal, prefix + "unknown error");
  }
}

}  // namespace localleap
