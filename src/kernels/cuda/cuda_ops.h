// kernels/cuda/cuda_ops.h — the CUDA backend's public face: device discovery, the device and
// pinned-host allocators, the work streams, and the Ops implementation (cuda_ops.cpp).
//
// A GPU has lanes, each with its own stream (and allocators whose copies are ordered on it):
// lane 0 is the GPU's stream; tensor-parallel ranks that share one GPU (ROTOR_SAME_DEVICE_RANKS)
// take one lane each, so each rank has its own stream, scratch and cuBLAS handle.
#pragma once
#include <cuda_runtime.h>

#include <initializer_list>
#include <memory>
#include <span>
#include <utility>
#include <vector>

#include "core/buffer.h"
#include "kernels/ops.h"

namespace rotor {

// Number of CUDA devices (0 when there is no driver or GPU).
int cuda_device_count();

// cudaMalloc'd memory on one GPU; copy() moves bytes in any direction, ordered on the lane's
// stream and complete when it returns.
Allocator& cuda_allocator(int device, int lane = 0);
// Page-locked host memory (for asynchronous copies to and from that GPU, on the lane's stream).
Allocator& cuda_host_allocator(int device, int lane = 0);
// The stream every op and copy of that GPU's lane runs on (non-blocking; created on first use,
// kept for the process).
cudaStream_t cuda_stream(int device, int lane = 0);
// The priority of a lane's stream, set before the stream is first used (throws after): 0 is the
// default; negative is more urgent (CUDA's convention: the scheduler gives a waiting kernel of a
// more urgent stream the SMs that free first), clamped to the device's range.
void set_cuda_lane_priority(int device, int lane, int priority);
// Lanes first_lane.. of a GPU on disjoint sets of its SMs (CUDA green contexts): sms[i] SMs for
// lane first_lane + i, rounded up to the device's granularity, 0 = what the lanes before it
// left; set before those lanes' streams are first used (throws after, or when the SMs run
// out). Returns the SMs each lane got.
std::vector<int> set_cuda_lane_sms(int device, int first_lane, std::span<const int> sms);

// The bf16 (and W8A8) CUDA backend on one GPU's lane: its stream, its own scratch and cuBLAS
// handle. One-time kernel settings (shared-memory limits) are made per device.
std::unique_ptr<Ops> make_cuda_ops(int device, int lane = 0);
// make_cuda_ops with each (variable, value) set in the environment while the backend is made
// (its switches are read then: ROTOR_GEMV, ROTOR_MOE_SMALL, ROTOR_W8A8_WGMMA), the previous
// values restored after: the A/B backends of tests and benchmarks.
std::unique_ptr<Ops> make_cuda_ops_with_env(std::initializer_list<std::pair<const char*, const char*>> env,
                                            int device = 0, int lane = 0);
// The stream of a CUDA backend (throws for other backends).
cudaStream_t cuda_stream(Ops& ops);

}  // namespace rotor
