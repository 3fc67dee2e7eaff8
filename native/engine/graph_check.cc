#include "graph_check.h"

#include <torch/csrc/jit/passes/inliner.h>

#include "errors.h"
#include "op_allowlist.h"

namespace localleap {
namespace {

// The first node outside the allowlist, in this block or the blocks nested in it (If, Loop).
const torch::jit::Node* findDisallowed(const torch::jit::Block* block) {
  for (const torch::jit::Node* node : block->nodes()) {
    if (!isAllowedOperator(node->kind().toQualString())) return node;
    for (const torch::jit::Block* inner : node->blocks()) {
      if (const torch::jit::Node* found = findDisallowed(inner)) return found;
    }
  }
  return nullptr;
}

}  // namespace

void checkModuleOperators(const torch::jit::Module& module, const std::string& path) {
  for (const torch::jit::Module& m : module.modules()) {
    const std::string type = m.type()->name() ? m.type()->name()->qualifiedName() : "module";
    for (const torch::jit::Method& method : m.get_methods()) {
      // A copy: inlining must not change the graph the engine runs.
      std::shared_ptr<torch::jit::Graph> graph = method.graph()->copy();
      torch::jit::Inline(*graph);
      if (const torch::jit::Node* node = findDisallowed(graph->block())) {
        const std::string op = node->kind().toQualString();
        throw EngineError(ErrorCode::kModelUnsafe,
                          "model file '" + path + "' uses the operator " + op + " in " + type + "." +
                              method.name() +
                              ". localleap refuses model code that could read or write files, use the network or "
                              "start processes (docs/model-format.md); load it with trustModelCode: true only if "
                              "you trust the file's author.",
                          op);
      }
    }
  }
}

}  // namespace localleap
