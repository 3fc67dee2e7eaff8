// Reads a TorchScript archive's serialized code (its code/**/*.py records) before libtorch runs
// any of it (torch::jit::load runs __setstate__), and refuses references to operators outside
// op_allowlist.h. A heuristic over the source text; the check of the loaded graphs
// (graph_check.h) is the authoritative one for the methods the engine calls.
#pragma once
#include <string>
#include <vector>

#include "zip_directory.h"

namespace localleap {

// The first operator a TorchScript source text refers to that is not allowed ("aten::save",
// "prim::Print", "custom::op", "torch (bare reference)"), with its line; name "" when none.
struct CodeFinding {
  std::string name;
  int line = 0;
};
CodeFinding findDisallowedReference(const std::string& source);

// Throws EngineError MODEL_UNSAFE naming the operator and the record ("code/__torch__/m.py:12"),
// also when a code record is too large to check.
void scanArchiveCode(const std::string& path, const std::vector<ZipEntry>& entries);

}  // namespace localleap
