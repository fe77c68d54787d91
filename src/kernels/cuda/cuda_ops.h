// kernels/cuda/cuda_ops.h — the CUDA backend's public face: device discovery and the
// device allocator. (The Ops implementation grows here op by op; see docs/modules.md.)
#pragma once
#include <memory>

#include "core/buffer.h"
#include "kernels/ops.h"

namespace rotor {

// Number of CUDA devices (0 when there is no driver or GPU).
int cuda_device_count();

// cudaMalloc'd memory on one GPU; copy() moves bytes in any direction.
Allocator& cuda_allocator(int device);

}  // namespace rotor
