// The central directory of a zip file (a TorchScript archive): each entry's name and declared
// sizes, read without inflating anything, so that entries can be size-checked before libtorch
// allocates and inflates them.
#pragma once
#include <stdint.h>

#include <string>
#include <vector>

namespace localleap {

struct ZipEntry {
  std::string name;           // full name, e.g. "model/extra/localleap.json"
  uint16_t method = 0;        // 0 stored, 8 deflated
  uint64_t compressedSize = 0;
  uint64_t uncompressedSize = 0;  // what a reader allocates for it
};

// Throws EngineError MODEL_CORRUPT when the file has no readable central directory.
std::vector<ZipEntry> readZipDirectory(const std::string& path);

// The name inside the archive's top folder ("model/code/x.py" -> "code/x.py"): how libtorch's
// PyTorchStreamReader names records.
std::string recordName(const std::string& entryName);

}  // namespace localleap
