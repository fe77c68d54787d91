// kernels/cuda/cuda_allocator.cu — device memory through cudaMalloc and page-locked host
// memory through cudaHostAlloc, one allocator of each per GPU, and the GPU's work stream
// (every op and every copy of that GPU is ordered on it).
#include <map>
#include <mutex>

#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/cuda_ops.h"

namespace rotor {
namespace {

// A copy on the stream of GPU device: ordered after its queued work, and complete on return.
void copy_on_stream(int device, void* dst, const void* src, size_t bytes) {
  if (!bytes) return;
  cudaStream_t s = cuda_stream(device);
  ROTOR_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDefault, s));
  ROTOR_CUDA_CHECK(cudaStreamSynchronize(s));
}

class CudaAllocator final : public Allocator {
 public:
  explicit CudaAllocator(int device) : device_(device) {}
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
  void copy(void* dst, const void* src, size_t bytes) override { copy_on_stream(device_, dst, src, bytes); }

 private:
  int device_;
};

class PinnedAllocator final : public Allocator {
 public:
  explicit PinnedAllocator(int device) : device_(device) {}
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
  void copy(void* dst, const void* src, size_t bytes) override { copy_on_stream(device_, dst, src, bytes); }

 private:
  int device_;
};

template <typename A>
Allocator& per_device(int device) {
  static std::mutex mu;
  static std::map<int, std::unique_ptr<A>> allocators;
  std::lock_guard<std::mutex> lock(mu);
  auto& a = allocators[device];
  if (!a) a = std::make_unique<A>(device);
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

Allocator& cuda_allocator(int device) { return per_device<CudaAllocator>(device); }
Allocator& cuda_host_allocator(int device) { return per_device<PinnedAllocator>(device); }

cudaStream_t cuda_stream(int device) {
  static std::mutex mu;
  static std::map<int, cudaStream_t> streams;
  std::lock_guard<std::mutex> lock(mu);
  auto it = streams.find(device);
  if (it != streams.end()) return it->second;
  ROTOR_CUDA_CHECK(cudaSetDevice(device));
  cudaStream_t s = nullptr;
  ROTOR_CUDA_CHECK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
  streams[device] = s;
  return s;
}

}  // namespace rotor
