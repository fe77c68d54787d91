// core/host_device.h — ROTOR_HD: a function compiled for the host and, under nvcc, the device
// too (inlined), for the arithmetic the CPU and the GPU kernels must share bit for bit.
#pragma once

#if defined(__CUDACC__)
#define ROTOR_HD __host__ __device__ __forceinline__
#else
#define ROTOR_HD inline
#endif
