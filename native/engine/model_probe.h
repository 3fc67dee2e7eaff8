// The short probe every archive method gets at load time (engine_model.cc, apd_step.cc): the
// same tiny inputs and the same missing-method error, so each archive kind only lists its methods.
#pragma once
#include <torch/script.h>

#include <initializer_list>
#include <string>

namespace localleap {

// n = min(8, maxLength) end tokens at positions 0..n-1 of one unpadded row, on `device`.
struct ProbeInputs {
  int64_t n;
  at::Tensor ids;        // int64 [1, n]
  at::Tensor positions;  // int64 [n]
  at::Tensor leftPad;    // int64 [1]
};
ProbeInputs makeProbeInputs(int64_t maxLength, int64_t eosId, const c10::Device& device);

// MODEL_METHOD_MISSING (field: the method) for the first of `names` the module lacks; the message
// is before + name + after, so it can say which archive and how to re-export it.
void requireMethods(torch::jit::Module& module, std::initializer_list<const char*> names, const std::string& before,
                    const std::string& after);

}  // namespace localleap
