// kernels/cuda/cuda_allocator.cu — device memory through cudaMalloc and page-locked host
// memory through cudaHostAlloc, one allocator of each per GPU and lane, and the lanes' work
// streams (every op and every copy of a backend is ordered on its lane's stream).
#include <utility>
#include <map>
#include <mutex>

#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/cuda_ops.h"

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

cudaStream_t cuda_stream(int device, int lane) {
  static std::mutex mu;
  static std::map<std::pair<int, int>, cudaStream_t> streams;
  std::lock_guard<std::mutex> lock(mu);
  auto it = streams.find({device, lane});
  if (it != streams.end()) return it->second;
  int current = 0;
  ROTOR_CUDA_CHECK(cudaGetDevice(&current));
  ROTOR_CUDA_CHECK(cudaSetDevice(device));
  cudaStream_t s = nullptr;
  ROTOR_CUDA_CHECK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
  ROTOR_CUDA_CHECK(cudaSetDevice(current));
  streams[{device, lane}] = s;
  return s;
}

}  // namespace rotor
