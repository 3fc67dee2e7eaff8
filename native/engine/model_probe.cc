#include "model_probe.h"

#include <algorithm>

#include "errors.h"

namespace localleap {

ProbeInputs makeProbeInputs(int64_t maxLength, int64_t eosId, const c10::Device& device) {
  const int64_t n = std::min<int64_t>(8, maxLength);
  auto longOpts = at::TensorOptions().dtype(at::kLong).device(device);
  return ProbeInputs{n, at::full({1, n}, eosId, longOpts), at::arange(n, longOpts), at::zeros({1}, longOpts)};
}

void requireMethods(torch::jit::Module& module, std::initializer_list<const char*> names, const std::string& before,
                    const std::string& after) {
  for (const char* name : names) {
    if (!module.find_method(name)) throw EngineError(ErrorCode::kModelMethodMissing, before + name + after, name);
  }
}

}  // namespace localleap
