// kernels/cuda/prefetch_l2.cu — one warp issuing bulk L2 prefetches over a weight range.
#include <cstdint>

#include "kernels/cuda/common.cuh"
#include "kernels/cuda/pdl.cuh"
#include "kernels/cuda/prefetch_l2.cuh"

namespace rotor::cuda {
namespace {

constexpr uint64_t kPiece = 256 << 10;  // bytes per bulk prefetch (a multiple of 16)

// The prefetches go out before pdl_wait (weights never depend on the previous kernel); the wait
// comes last so that this kernel ends only after the previous one, and the next kernel's own
// wait still covers every kernel before it.
__global__ void __launch_bounds__(32) prefetch_l2_kernel(const char* p, uint64_t bytes) {
  pdl_launch_dependents();
  for (uint64_t off = threadIdx.x * kPiece; off < bytes; off += 32 * kPiece) {
    const uint32_t n = static_cast<uint32_t>(bytes - off < kPiece ? bytes - off : kPiece);
    prefetch_bulk_l2(p + off, n);
  }
  pdl_wait();
}

}  // namespace

cudaError_t prefetch_l2(const void* p, size_t bytes, cudaStream_t stream) {
  const uintptr_t begin = (reinterpret_cast<uintptr_t>(p) + 15) & ~uintptr_t{15};
  const uintptr_t end = (reinterpret_cast<uintptr_t>(p) + bytes) & ~uintptr_t{15};
  if (end <= begin) return cudaSuccess;
  return launch(prefetch_l2_kernel, 1, 32, 0, stream, reinterpret_cast<const char*>(begin),
                static_cast<uint64_t>(end - begin));
}

}  // namespace rotor::cuda
