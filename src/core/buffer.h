// core/buffer.h — owned memory: Allocator (per device) and Buffer (RAII, move-only).
// The CPU allocator lives here; the CUDA one in kernels/cuda (core never includes CUDA).
#pragma once
#include <cstddef>
#include <memory>

#include "core/tensor.h"

namespace rotor {

class Allocator {
 public:
  virtual ~Allocator() = default;
  virtual Device device() const = 0;
  virtual void* allocate(size_t bytes) = 0;
  virtual void deallocate(void* p, size_t bytes) = 0;
  // Copies bytes between host memory and this allocator's memory (either direction may be host).
  virtual void copy(void* dst, const void* src, size_t bytes) = 0;
};

// 64-byte aligned host memory.
Allocator& cpu_allocator();

class Buffer {
 public:
  Buffer() = default;
  Buffer(Allocator& alloc, size_t bytes);
  Buffer(Buffer&& o) noexcept;
  Buffer& operator=(Buffer&& o) noexcept;
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  ~Buffer();

  void* data() const { return data_; }
  size_t size() const { return bytes_; }
  Device device() const { return alloc_ ? alloc_->device() : Device{}; }
  Allocator* allocator() const { return alloc_; }
  // A contiguous tensor view of the start of this buffer.
  Tensor as(DType dtype, Shape shape) const;

 private:
  void reset();
  Allocator* alloc_ = nullptr;
  void* data_ = nullptr;
  size_t bytes_ = 0;
};

// An owned tensor: a Buffer plus the view of it.
struct OwnedTensor {
  Buffer buffer;
  Tensor tensor;
  OwnedTensor() = default;
  OwnedTensor(Allocator& alloc, DType dtype, Shape shape);
  operator const Tensor&() const { return tensor; }
};

}  // namespace rotor
