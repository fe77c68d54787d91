// kernels/cuda/cuda_ops.h — the CUDA backend's public face: device discovery, the device and
// pinned-host allocators, each GPU's work stream, and the Ops implementation (cuda_ops.cpp).
#pragma once
#include <cuda_runtime.h>

#include <memory>

#include "core/buffer.h"
#include "kernels/ops.h"

namespace rotor {

// Number of CUDA devices (0 when there is no driver or GPU).
int cuda_device_count();

// cudaMalloc'd memory on one GPU; copy() moves bytes in any direction, ordered on the GPU's
// stream and complete when it returns.
Allocator& cuda_allocator(int device);
// Page-locked host memory (for asynchronous copies to and from that GPU).
Allocator& cuda_host_allocator(int device);
// The stream every op and copy of that GPU runs on (non-blocking; created on first use).
cudaStream_t cuda_stream(int device);

// The bf16 CUDA backend on one GPU.
std::unique_ptr<Ops> make_cuda_ops(int device);
// The stream of a CUDA backend (throws for other backends).
cudaStream_t cuda_stream(Ops& ops);

}  // namespace rotor
