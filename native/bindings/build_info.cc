#include "build_info.h"

#include <ATen/Parallel.h>
#include <torch/cuda.h>
#include <torch/version.h>

#ifdef LOCALLEAP_WITH_CUDA
#include <cuda_runtime.h>
#endif
#ifdef LOCALLEAP_HAS_SOURCE_HASH
#include "source_hash.h"
#else
#define LOCALLEAP_SOURCE_HASH ""  // node-gyp builds: not computed
#endif

namespace localleap {

// Kept in the binary's data as "localleap-source-hash:<hex>" so that tests can read a prebuild's
// hash without loading it (a CUDA prebuild does not load on a CPU machine).
extern "C" __attribute__((visibility("default"), used)) const char localleap_source_hash_marker[] =
    "localleap-source-hash:" LOCALLEAP_SOURCE_HASH;

Napi::Value buildInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  o.Set("torchVersion", std::to_string(TORCH_VERSION_MAJOR) + "." + std::to_string(TORCH_VERSION_MINOR) + "." +
                            std::to_string(TORCH_VERSION_PATCH));
  o.Set("defaultThreads", at::get_num_threads());
  o.Set("sourceHash", LOCALLEAP_SOURCE_HASH);
#ifdef LOCALLEAP_WITH_CUDA
  o.Set("variant", "cuda");
  o.Set("cudaVersion", std::to_string(CUDART_VERSION / 1000) + "." + std::to_string((CUDART_VERSION % 1000) / 10));
  const bool available = torch::cuda::is_available();
  const int count = available ? (int)torch::cuda::device_count() : 0;
  o.Set("cudaAvailable", available && count > 0);
  o.Set("cudaDeviceCount", count);
  std::string name;
  cudaDeviceProp prop;
  if (count > 0 && cudaGetDeviceProperties(&prop, 0) == cudaSuccess) name = prop.name;
  o.Set("cudaDeviceName", name);
#else
  o.Set("variant", "cpu");
  o.Set("cudaVersion", "");
  o.Set("cudaAvailable", false);
  o.Set("cudaDeviceCount", 0);
  o.Set("cudaDeviceName", "");
#endif
  return o;
}

}  // namespace localleap
