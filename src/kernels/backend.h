// kernels/backend.h — choosing a backend by name: "cpu", "cuda", "cuda:N" or "auto"
// (the first GPU when rotor was built with CUDA and one is present, else the CPU).
#pragma once
#include <memory>
#include <string_view>

#include "kernels/ops.h"

namespace rotor {

std::unique_ptr<Ops> make_ops(std::string_view device);
bool cuda_available();
// GPUs this process sees (0 without CUDA).
int cuda_gpu_count();
// The CUDA backend of GPU `device`'s lane `lane` (its own stream; tensor-parallel ranks that
// share a GPU take one lane each, kernels/cuda/cuda_ops.h); throws without CUDA.
std::unique_ptr<Ops> make_gpu_ops(int device, int lane);

}  // namespace rotor
