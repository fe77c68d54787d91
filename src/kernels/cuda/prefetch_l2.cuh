// kernels/cuda/prefetch_l2.cuh — an L2 prefetch of a weight range behind latency-bound kernels
// (docs/weight-prefetch.md).
#pragma once
#include <cuda_runtime.h>

#include <cstddef>

namespace rotor::cuda {

// Starts pulling bytes [p, p + bytes) into L2 (the 16-byte-aligned part inside the range) with
// bulk prefetches (cp.async.bulk.prefetch.L2, the copy engine's) issued by one warp, which then
// ends with the previous kernel: no value changes and nothing waits for the bytes. Launched
// with PDL, its prefetches go out while the previous kernel still runs (weights are never
// written by a step).
cudaError_t prefetch_l2(const void* p, size_t bytes, cudaStream_t stream);

}  // namespace rotor::cuda
