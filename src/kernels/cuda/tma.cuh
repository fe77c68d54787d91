// kernels/cuda/tma.cuh — Hopper (sm_90a) tensor memory accelerator copies: a 2-D box of a
// tensor (described by a CUtensorMap the host encoded) copied from global into shared memory
// by one thread, completing on a shared-memory barrier (wgmma.cuh's mbarrier) that counts the
// bytes it expects. With a 128-byte swizzle the box's 16-byte unit u of row r lands at
// u ^ (r % 8) of that row (rows of 128 bytes, the destination 1024-byte aligned), the layout
// wgmma.cuh's swz128 describes.
#pragma once
#include <cuda.h>

#include <cstdint>

#include "kernels/cuda/wgmma.cuh"

namespace rotor::cuda {

// After mbar_init: the barriers' initialisation visible to the copy engine (async proxy).
__device__ __forceinline__ void mbar_init_fence() {
  asm volatile("fence.mbarrier_init.release.cluster;\nfence.proxy.async.shared::cta;\n" ::: "memory");
}

// One arrival on bar that also expects `bytes` more to land before its phase completes.
__device__ __forceinline__ void mbar_arrive_expect_tx(uint64_t* bar, uint32_t bytes) {
  asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;\n" ::"r"(smem_addr(bar)), "r"(bytes)
               : "memory");
}

// The box at (x, y) (x: the innermost dimension, in elements) of the tensor `map` describes
// into dst, its bytes counted on bar. map must live in kernel-parameter, constant or global
// memory (a __grid_constant__ parameter's member).
__device__ __forceinline__ void tma_load_2d(void* dst, const CUtensorMap* map, int x, int y, uint64_t* bar) {
  asm volatile(
      "cp.async.bulk.tensor.2d.shared::cluster.global.tile.mbarrier::complete_tx::bytes [%0], [%1, {%2, %3}], [%4];\n" ::
          "r"(smem_addr(dst)),
      "l"(reinterpret_cast<uint64_t>(map)), "r"(x), "r"(y), "r"(smem_addr(bar))
      : "memory");
}

}  // namespace rotor::cuda
