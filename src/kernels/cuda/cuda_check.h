// kernels/cuda/cuda_check.h — CUDA error checks that raise rotor::Error (no fmt: nvcc's
// C++20 front end rejects fmt 9's constexpr code, so .cu files use core/error.h only).
#pragma once
#include <cuda_runtime.h>

#include <string>

#include "core/error.h"

#define ROTOR_CUDA_CHECK(expr)                                                                   \
  do {                                                                                           \
    const cudaError_t rotor_err_ = (expr);                                                       \
    if (rotor_err_ != cudaSuccess) [[unlikely]]                                                  \
      ::rotor::fail(std::string("CUDA error at " #expr ": ") + cudaGetErrorString(rotor_err_)); \
  } while (0)
