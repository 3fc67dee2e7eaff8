// The operators a model archive may use unless loadModel({ trustModelCode: true }): what a dLLM
// forward needs (tensor math, nn functional ops, TorchScript control flow and list/str helpers),
// and nothing that reads or writes files, talks to the network, starts processes or threads,
// (de)serialises, or re-points a tensor at other memory (aten::set_, as_strided, resize_).
// docs/model-format.md "What a model archive can and cannot do" is the user-facing description.
#pragma once
#include <string>

namespace localleap {

// `qualified` is an operator name as TorchScript graphs spell it: "aten::matmul", "prim::If".
bool isAllowedOperator(const std::string& qualified);

}  // namespace localleap
