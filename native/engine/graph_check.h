// The authoritative operator check: every method of every (sub)module of the loaded archive,
// with the functions and methods it calls inlined, may use only operators of op_allowlist.h.
// Runs after torch::jit::load and before the probe forward.
#pragma once
#include <torch/script.h>

#include <string>

namespace localleap {

// Throws EngineError MODEL_UNSAFE naming the operator and the method.
void checkModuleOperators(const torch::jit::Module& module, const std::string& path);

}  // namespace localleap
