// The KV cache's storage: one tensor per decode shape, allocated by the engine (never by the
// model), so a cached step allocates nothing and a captured graph can keep pointing at it.
#pragma once
#include <torch/script.h>

#include "generation.h"

namespace localleap {

// Bytes of cache one row of `positions` positions needs: layers x 2 x positions x kvHeads x headDim x dtype bytes.
int64_t kvCacheBytesPerRow(const CacheSpec& spec, at::ScalarType dtype, int64_t positions);

// The window of canvas positions a cached step runs for the block at blockStart (docs/decoding.md):
// dual: the block; prefix: the block and everything after it; one position earlier for shifted models.
at::Tensor cachedWindow(CacheMode mode, int blockStart, int blockLength, int canvasLength, bool shifted,
                        const at::TensorOptions& options);

// The zero-filled cache [layers, 2, batch, kvHeads, length, headDim]; OUT_OF_MEMORY naming its size
// when it does not fit.
at::Tensor allocateKvCache(const CacheSpec& spec, at::ScalarType dtype, int64_t batch, int64_t length,
                           const c10::Device& device);

}  // namespace localleap
