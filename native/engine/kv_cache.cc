#include "kv_cache.h"

#include <unistd.h>

#include <sstream>

#include "errors.h"
#include "model_call.h"

namespace localleap {
namespace {

std::string mib(double bytes) {
  std::ostringstream s;
  s.setf(std::ios::fixed);
  s.precision(1);
  s << bytes / (1024.0 * 1024.0) << " MiB";
  return s.str();
}

}  // namespace

int64_t kvCacheBytesPerRow(const CacheSpec& spec, at::ScalarType dtype, int64_t positions) {
  return (int64_t)spec.layers * 2 * positions * spec.kvHeads * spec.headDim * (int64_t)c10::elementSize(dtype);
}

at::Tensor cachedWindow(CacheMode mode, int blockStart, int blockLength, int canvasLength, bool shifted,
                        const at::TensorOptions& options) {
  const int64_t first = blockStart - (shifted ? 1 : 0);  // Dream: the block's first output is at blockStart - 1
  const int64_t end = mode == CacheMode::kDual ? blockStart + blockLength : canvasLength;
  return at::arange(first, end, options.dtype(at::kLong));
}

at::Tensor allocateKvCache(const CacheSpec& spec, at::ScalarType dtype, int64_t batch, int64_t length,
                           const c10::Device& device) {
  // In double: the metadata's bounds allow products beyond int64.
  const double perRow = (double)spec.layers * 2 * (double)length * spec.kvHeads * spec.headDim * (double)c10::elementSize(dtype);
  auto tooBig = [&](const std::string& why) {
    return EngineError(ErrorCode::kOutOfMemory,
                       "the KV cache needs " + mib(perRow * batch) + " (" + mib(perRow) + " per row x " +
                           std::to_string(batch) + " rows: " + std::to_string(spec.layers) + " layers x 2 x " +
                           std::to_string(length) + " positions x " + std::to_string(spec.kvHeads) + " kv heads x " +
                           std::to_string(spec.headDim) + " x " + std::to_string(c10::elementSize(dtype)) +
                           " bytes) and " + why +
                           ". Use a smaller batch, a shorter genLength or prompt, cache 'none', or free memory.");
  };
  if (perRow * (double)batch > 9.0e15) throw tooBig("that is more memory than any machine has");
  if (device.is_cpu()) {
    // Refused up front: with overcommit the allocation could succeed and the zero fill be killed.
    const double physical = (double)sysconf(_SC_PHYS_PAGES) * (double)sysconf(_SC_PAGESIZE);
    if (physical > 0 && perRow * (double)batch > physical) {
      throw tooBig("this machine has " + mib(physical) + " of memory");
    }
  }
  try {
    return at::zeros(kvCacheShape(spec.layers, spec.kvHeads, spec.headDim, batch, length),
                     at::TensorOptions().dtype(dtype).device(device));
  } catch (const c10::OutOfMemoryError& e) {
    throw tooBig(std::string("the device is out of memory (") + e.what_without_backtrace() + ")");
  } catch (const std::bad_alloc&) {
    throw tooBig("the host is out of memory");
  } catch (const c10::Error& e) {
    // The CPU allocator reports a failed allocation as a plain c10::Error.
    throw tooBig(std::string("it could not be allocated (") + e.what_without_backtrace() + ")");
  }
}

}  // namespace localleap
