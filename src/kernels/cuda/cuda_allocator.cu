// kernels/cuda/cuda_allocator.cu — device memory through cudaMalloc, one allocator per GPU.
#include <map>
#include <mutex>

#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/cuda_ops.h"

namespace rotor {
namespace {

class CudaAllocator final : public Allocator {
 public:
  explicit CudaAllocator(int device) : device_(device) {}
  Device device() const override { return {DeviceType::CUDA, device_}; }
  void* allocate(size_t bytes) override {
    if (bytes == 0) return nullptr;
    ROTOR_CUDA_CHECK(cudaSetDevice(device_));
    void* p = nullptr;
    const cudaError_t err = cudaMalloc(&p, bytes);
    if (err != cudaSuccess)
      fail("out of GPU memory on cuda:" + std::to_string(device_) + " allocating " +
           std::to_string(bytes >> 20) + " MiB (" + cudaGetErrorString(err) + ")");
    return p;
  }
  void deallocate(void* p, size_t) override {
    if (p) cudaFree(p);
  }
  void copy(void* dst, const void* src, size_t bytes) override {
    if (bytes) ROTOR_CUDA_CHECK(cudaMemcpy(dst, src, bytes, cudaMemcpyDefault));
  }

 private:
  int device_;
};

}  // namespace

int cuda_device_count() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    cudaGetLastError();
    return 0;
  }
  return n;
}

Allocator& cuda_allocator(int device) {
  static std::mutex mu;
  static std::map<int, std::unique_ptr<CudaAllocator>> allocators;
  std::lock_guard<std::mutex> lock(mu);
  auto& a = allocators[device];
  if (!a) a = std::make_unique<CudaAllocator>(device);
  return *a;
}

}  // namespace rotor
