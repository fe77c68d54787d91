// kernels/cuda/sm_partition.cpp — green contexts through the driver's entry points
// (sm_partition.h).
#include "kernels/cuda/sm_partition.h"

#include <cuda.h>

#include <string>

#include "core/check.h"

namespace rotor::cuda {
namespace {

// The driver function `name` with the signature this cuda.h declares, or an error naming it.
template <typename Fn>
Fn driver_fn(const char* name) {
  void* f = nullptr;
  cudaDriverEntryPointQueryResult found{};
  const cudaError_t e = cudaGetDriverEntryPointByVersion(name, &f, CUDA_VERSION, cudaEnableDefault, &found);
  ROTOR_CHECK(e == cudaSuccess && found == cudaDriverEntryPointSuccess && f != nullptr,
              "SM partitions: the CUDA driver has no {} at CUDA {}.{} (green contexts need a driver that new)", name,
              CUDA_VERSION / 1000, CUDA_VERSION % 1000 / 10);
  return reinterpret_cast<Fn>(f);
}

void check_cu(CUresult r, const char* what) {
  ROTOR_CHECK(r == CUDA_SUCCESS, "SM partitions: {} failed (CUresult {})", what, static_cast<int>(r));
}

}  // namespace

std::vector<SmPartition> split_sms(int device, std::span<const int> counts) {
  const auto get = driver_fn<CUresult (*)(CUdevice*, int)>("cuDeviceGet");
  const auto get_resource =
      driver_fn<CUresult (*)(CUdevice, CUdevResource*, CUdevResourceType)>("cuDeviceGetDevResource");
  const auto split = driver_fn<CUresult (*)(CUdevResource*, unsigned*, const CUdevResource*, CUdevResource*, unsigned,
                                            unsigned)>("cuDevSmResourceSplitByCount");
  const auto describe = driver_fn<CUresult (*)(CUdevResourceDesc*, CUdevResource*, unsigned)>("cuDevResourceGenerateDesc");
  const auto create = driver_fn<CUresult (*)(CUgreenCtx*, CUdevResourceDesc, CUdevice, unsigned)>("cuGreenCtxCreate");
  int current = 0;
  ROTOR_CHECK(cudaGetDevice(&current) == cudaSuccess && cudaSetDevice(device) == cudaSuccess &&
                  cudaFree(nullptr) == cudaSuccess,
              "SM partitions: GPU {} cannot be made current", device);
  CUdevice dev{};
  check_cu(get(&dev, device), "cuDeviceGet");
  CUdevResource left{};
  check_cu(get_resource(dev, &left, CU_DEV_RESOURCE_TYPE_SM), "cuDeviceGetDevResource");
  std::vector<SmPartition> out;
  for (size_t i = 0; i < counts.size(); ++i) {
    ROTOR_CHECK(counts[i] >= 0, "SM partitions: {} SMs asked for partition {}", counts[i], i);
    CUdevResource part{};
    if (counts[i] == 0) {
      part = left;
      left = CUdevResource{};
    } else {
      CUdevResource rest{};
      unsigned groups = 1;
      check_cu(split(&part, &groups, &left, &rest, 0, static_cast<unsigned>(counts[i])),
               "cuDevSmResourceSplitByCount");
      ROTOR_CHECK(groups == 1, "SM partitions: {} SMs for partition {}: only {} are left", counts[i], i,
                  left.sm.smCount);
      left = rest;
    }
    ROTOR_CHECK(part.type == CU_DEV_RESOURCE_TYPE_SM && part.sm.smCount > 0, "SM partitions: none left for partition {}",
                i);
    CUdevResourceDesc desc{};
    check_cu(describe(&desc, &part, 1), "cuDevResourceGenerateDesc");
    CUgreenCtx g{};
    check_cu(create(&g, desc, dev, CU_GREEN_CTX_DEFAULT_STREAM), "cuGreenCtxCreate");
    out.push_back({g, static_cast<int>(part.sm.smCount)});
  }
  cudaSetDevice(current);
  return out;
}

cudaStream_t partition_stream(const SmPartition& p, int priority) {
  const auto create = driver_fn<CUresult (*)(CUstream*, CUgreenCtx, unsigned, int)>("cuGreenCtxStreamCreate");
  CUstream s{};
  check_cu(create(&s, static_cast<CUgreenCtx>(p.green_ctx), CU_STREAM_NON_BLOCKING, priority), "cuGreenCtxStreamCreate");
  return reinterpret_cast<cudaStream_t>(s);
}

}  // namespace rotor::cuda
