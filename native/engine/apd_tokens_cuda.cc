// The device half of chooseApdTokens: the tasks to the device, the token kernel on the current
// stream (the CUDA back end's, set by its runApd), the ids back (the one synchronisation).
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <torch/torch.h>

#include <cstring>

#include "../kernels/apd_tokens_kernel.h"
#include "apd_tokens.h"
#include "errors.h"

namespace localleap {

std::vector<int32_t> chooseApdTokensCuda(const std::vector<apd::TokenTask>& tasks, const apd::TokenRule& rule,
                                         const c10::Device& device) {
  std::vector<int32_t> tokens(tasks.size());
  if (tasks.empty()) return tokens;
  c10::cuda::CUDAGuard guard(device);
  const int64_t bytes = (int64_t)(tasks.size() * sizeof(apd::TokenTask));
  at::Tensor host = at::empty({bytes}, at::kByte);
  std::memcpy(host.data_ptr(), tasks.data(), (size_t)bytes);
  at::Tensor onDevice = host.to(device);
  at::Tensor ids = at::empty({(int64_t)tasks.size()}, at::TensorOptions().dtype(at::kInt).device(device));
  ApdTokensLaunch launch{reinterpret_cast<const apd::TokenTask*>(onDevice.data_ptr()), (int)tasks.size(), rule,
                         ids.data_ptr<int32_t>()};
  const cudaError_t status = launchApdTokens(launch, c10::cuda::getCurrentCUDAStream(device.index()));
  if (status != cudaSuccess) {
    throw EngineError(ErrorCode::kInternal, std::string("APD token kernel launch: ") + cudaGetErrorString(status));
  }
  at::Tensor back = ids.to(at::kCPU);
  std::memcpy(tokens.data(), back.data_ptr<int32_t>(), tokens.size() * sizeof(int32_t));
  return tokens;
}

}  // namespace localleap
