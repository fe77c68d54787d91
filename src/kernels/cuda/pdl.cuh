// kernels/cuda/pdl.cuh — programmatic dependent launch (PDL) for every rotor kernel: a kernel
// launched with `launch` may start while the previous kernel in the stream drains; it calls
// pdl_wait() before touching global memory, then pdl_launch_dependents() to let the next start.
// ROTOR_PDL=0 in the environment launches without the attribute (plain stream order).
// Also: raising a kernel's dynamic shared-memory limit once per device (raise_smem_limit).
#pragma once
#include <cuda_runtime.h>

#include <cstdlib>
#include <cstring>
#include <mutex>
#include <set>
#include <utility>

namespace rotor::cuda {

// Waits until the previous grid in the stream has completed and its writes are visible
// (returns at once when this grid was not launched with the PDL attribute).
__device__ __forceinline__ void pdl_wait() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.wait;" ::: "memory");
#endif
}

// Lets the next grid in the stream launch once every block of this grid has called it (or exited).
__device__ __forceinline__ void pdl_launch_dependents() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.launch_dependents;" :::);
#endif
}

// Whether launches carry the PDL attribute: ROTOR_PDL=0 turns it off (read once).
inline bool pdl_enabled() {
  static const bool on = [] {
    const char* v = std::getenv("ROTOR_PDL");
    return v == nullptr || std::strcmp(v, "0") != 0;
  }();
  return on;
}

// Launches `kernel` as a thread-block cluster of `cluster` blocks (none when all of it is 1),
// with the PDL attribute unless ROTOR_PDL=0. Returns the launch's error, clearing the
// thread's last error as cudaGetLastError() after a <<<...>>> launch does.
template <typename... Params, typename... Args>
cudaError_t launch_cluster(dim3 cluster, void (*kernel)(Params...), dim3 grid, dim3 block, size_t smem,
                           cudaStream_t stream, Args&&... args) {
  cudaLaunchAttribute attrs[2];
  unsigned n = 0;
  if (cluster.x * cluster.y * cluster.z > 1) {
    attrs[n].id = cudaLaunchAttributeClusterDimension;
    attrs[n].val.clusterDim.x = cluster.x;
    attrs[n].val.clusterDim.y = cluster.y;
    attrs[n].val.clusterDim.z = cluster.z;
    ++n;
  }
  if (pdl_enabled()) {
    attrs[n].id = cudaLaunchAttributeProgrammaticStreamSerialization;
    attrs[n].val.programmaticStreamSerializationAllowed = 1;
    ++n;
  }
  cudaLaunchConfig_t cfg{};
  cfg.gridDim = grid;
  cfg.blockDim = block;
  cfg.dynamicSmemBytes = smem;
  cfg.stream = stream;
  cfg.attrs = attrs;
  cfg.numAttrs = n;
  const cudaError_t err = cudaLaunchKernelEx(&cfg, kernel, std::forward<Args>(args)...);
  const cudaError_t last = cudaGetLastError();
  return err != cudaSuccess ? err : last;
}

// launch(kernel, grid, block, smem, stream, args...): kernel<<<grid, block, smem, stream>>>(args...)
// with the PDL attribute.
template <typename... Params, typename... Args>
cudaError_t launch(void (*kernel)(Params...), dim3 grid, dim3 block, size_t smem, cudaStream_t stream,
                   Args&&... args) {
  return launch_cluster(dim3(1, 1, 1), kernel, grid, block, smem, stream, std::forward<Args>(args)...);
}

// Sets `kernel`'s dynamic shared-memory limit to `bytes` on the current device (the device of
// the stream it will be launched on) the first time it is asked for that kernel and device:
// the attribute belongs to a device's context, and one process may drive several GPUs. Up to
// the default 48 KiB nothing needs setting. max_carveout: also ask for the largest shared
// memory split of the SM (a kernel meant to run several large blocks an SM).
template <typename... Params>
cudaError_t raise_smem_limit(void (*kernel)(Params...), int bytes, bool max_carveout = false) {
  if (bytes <= 48 * 1024) return cudaSuccess;
  static std::mutex mu;
  static std::set<std::pair<const void*, int>> done;  // (kernel, device)
  int dev = 0;
  cudaError_t err = cudaGetDevice(&dev);
  if (err != cudaSuccess) return err;
  const std::pair<const void*, int> key{reinterpret_cast<const void*>(kernel), dev};
  std::lock_guard<std::mutex> lock(mu);
  if (done.count(key)) return cudaSuccess;
  err = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, bytes);
  if (err == cudaSuccess && max_carveout)
    err = cudaFuncSetAttribute(kernel, cudaFuncAttributePreferredSharedMemoryCarveout, cudaSharedmemCarveoutMaxShared);
  if (err == cudaSuccess) done.insert(key);
  return err;
}

}  // namespace rotor::cuda
