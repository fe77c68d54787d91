// kernels/cuda/cuda_allocator.cu — device memory through cudaMalloc and page-locked host
// memory through cudaHostAlloc, one allocator of each per GPU and lane, and the lanes' work
// streams (every op and every copy of a backend is ordered on its lane's stream) with their
// priorities and SM partitions.
#include <algorithm>
#include <map>
#include <mutex>
#include <utility>

#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/cuda_ops.h"
#include "kernels/cuda/sm_partition.h"

namespace rotor {
namespace {

// A copy on the stream of a GPU's lane: ordered after its queued work, and complete on return.
void copy_on_stream(int device, int lane, void* dst, const void* src, size_t bytes) {
  if (!bytes) return;
  cudaStream_t s = cuda_stream(device, lane);
  ROTOR_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDefault, s));
  ROTOR_CUDA_CHECK(cudaStreamSynchronize(s));
}

class CudaAllocator final : public Allocator {
 public:
  CudaAllocator(int device, int lane) : device_(device), lane_(lane) {}
  Device device() const override { return {DeviceType::CUDA, device_}; }
  void* allocate(size_t bytes) override {
    if (bytes == 0) return nullptr;
    ROTOR_CUDA_CHECK(cudaSetDevice(device_));
    void* p = nullptr;
    const cudaError_t err = cudaMalloc(&p, bytes);
    if (err != cudaSuccess) {
      cudaGetLastError();
      fail("out of GPU memory on cuda:" + std::to_string(device_) + " allocating " + std::to_string(bytes >> 20) +
           " MiB (" + cudaGetErrorString(err) + ")");
    }
    return p;
  }
  void deallocate(void* p, size_t) override {
    if (p) cudaFree(p);
  }
  void copy(void* dst, const void* src, size_t bytes) override { copy_on_stream(device_, lane_, dst, src, bytes); }

 private:
  int device_, lane_;
};

class PinnedAllocator final : public Allocator {
 public:
  PinnedAllocator(int device, int lane) : device_(device), lane_(lane) {}
  Device device() const override { return {}; }
  void* allocate(size_t bytes) override {
    if (bytes == 0) return nullptr;
    ROTOR_CUDA_CHECK(cudaSetDevice(device_));
    void* p = nullptr;
    ROTOR_CUDA_CHECK(cudaHostAlloc(&p, bytes, cudaHostAllocDefault));
    return p;
  }
  void deallocate(void* p, size_t) override {
    if (p) cudaFreeHost(p);
  }
  void copy(void* dst, const void* src, size_t bytes) override { copy_on_stream(device_, lane_, dst, src, bytes); }

 private:
  int device_, lane_;
};

// One allocator per (device, lane), made on first use and kept for the process (buffers may
// outlive the backend that made them).
template <typename A>
Allocator& per_lane(int device, int lane) {
  static std::mutex mu;
  static std::map<std::pair<int, int>, std::unique_ptr<A>> allocators;
  std::lock_guard<std::mutex> lock(mu);
  auto& a = allocators[{device, lane}];
  if (!a) a = std::make_unique<A>(device, lane);
  return *a;
}

}  // namespace

int cuda_device_count() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    cudaGetLastError();
    return 0;
  }
  return n;
}

Allocator& cuda_allocator(int device, int lane) { return per_lane<CudaAllocator>(device, lane); }
Allocator& cuda_host_allocator(int device, int lane) { return per_lane<PinnedAllocator>(device, lane); }

namespace {

// The lanes' streams, and the priorities and SM partitions asked for before a stream was made.
struct LaneStreams {
  std::mutex mu;
  std::map<std::pair<int, int>, cudaStream_t> streams;
  std::map<std::pair<int, int>, int> priorities;
  std::map<std::pair<int, int>, cuda::SmPartition> partitions;
};

LaneStreams& lane_streams() {
  static LaneStreams l;
  return l;
}

}  // namespace

cudaStream_t cuda_stream(int device, int lane) {
  LaneStreams& l = lane_streams();
  std::lock_guard<std::mutex> lock(l.mu);
  auto it = l.streams.find({device, lane});
  if (it != l.streams.end()) return it->second;
  int current = 0;
  ROTOR_CUDA_CHECK(cudaGetDevice(&current));
  ROTOR_CUDA_CHECK(cudaSetDevice(device));
  const auto p = l.priorities.find({device, lane});
  int priority = 0;
  if (p != l.priorities.end()) {
    int least = 0, greatest = 0;  // CUDA's order: greatest is the most urgent (numerically lowest)
    ROTOR_CUDA_CHECK(cudaDeviceGetStreamPriorityRange(&least, &greatest));
    priority = std::clamp(p->second, greatest, least);
  }
  cudaStream_t s = nullptr;
  if (const auto part = l.partitions.find({device, lane}); part != l.partitions.end())
    s = cuda::partition_stream(part->second, priority);
  else
    ROTOR_CUDA_CHECK(cudaStreamCreateWithPriority(&s, cudaStreamNonBlocking, priority));
  ROTOR_CUDA_CHECK(cudaSetDevice(current));
  l.streams[{device, lane}] = s;
  return s;
}

void set_cuda_lane_priority(int device, int lane, int priority) {
  LaneStreams& l = lane_streams();
  std::lock_guard<std::mutex> lock(l.mu);
  if (l.streams.count({device, lane}))
    fail("GPU " + std::to_string(device) + " lane " + std::to_string(lane) +
         ": its stream exists; a priority must be set before it is first used");
  l.priorities[{device, lane}] = priority;
}

std::vector<int> set_cuda_lane_sms(int device, int first_lane, std::span<const int> sms) {
  LaneStreams& l = lane_streams();
  std::lock_guard<std::mutex> lock(l.mu);
  const int n = static_cast<int>(sms.size());
  for (int lane = first_lane; lane < first_lane + n; ++lane)
    if (l.streams.count({device, lane}) || l.partitions.count({device, lane}))
      fail("GPU " + std::to_string(device) + " lane " + std::to_string(lane) +
           ": its stream or SM partition exists; partitions must be set before the lanes are used");
  const std::vector<cuda::SmPartition> parts = cuda::split_sms(device, sms);
  std::vector<int> counts;
  for (int i = 0; i < n; ++i) {
    l.partitions[{device, first_lane + i}] = parts[i];
    counts.push_back(parts[i].sms);
  }
  return counts;
}

}  // namespace rotor
