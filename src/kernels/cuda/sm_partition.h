// kernels/cuda/sm_partition.h — disjoint SM partitions of one GPU (CUDA green contexts) and
// streams whose kernels run only on a partition's SMs: a GPU's lanes may each take one
// (set_cuda_lane_sms in cuda_ops.h). The driver's functions are found through the runtime's
// entry points, so nothing links libcuda.
#pragma once
#include <cuda_runtime.h>

#include <span>
#include <vector>

namespace rotor::cuda {

struct SmPartition {
  void* green_ctx = nullptr;  // the driver's CUgreenCtx
  int sms = 0;                // SMs it holds
};

// Partitions of counts[i] SMs each (rounded up to the device's granularity: 8 on Hopper), taken
// in order from what the earlier ones left; a count of 0 takes all that is left. Throws when
// the driver has no green contexts or the SMs run out.
std::vector<SmPartition> split_sms(int device, std::span<const int> counts);

// A non-blocking stream of the partition, at a priority in CUDA's order.
cudaStream_t partition_stream(const SmPartition& p, int priority);

}  // namespace rotor::cuda
