// core/buffer.cpp — host allocator and Buffer.
#include "core/buffer.h"
#include "core/check.h"

#include <cstdlib>
#include <cstring>
#include <new>

namespace rotor {
namespace {

class CpuAllocator final : public Allocator {
 public:
  Device device() const override { return {}; }
  void* allocate(size_t bytes) override {
    if (bytes == 0) return nullptr;
    void* p = std::aligned_alloc(64, (bytes + 63) / 64 * 64);
    ROTOR_CHECK(p != nullptr, "out of host memory allocating {} bytes", bytes);
    return p;
  }
  void deallocate(void* p, size_t) override { std::free(p); }
  void copy(void* dst, const void* src, size_t bytes) override {
    if (bytes) std::memcpy(dst, src, bytes);
  }
};

}  // namespace

Allocator& cpu_allocator() {
  static CpuAllocator a;
  return a;
}

Buffer::Buffer(Allocator& alloc, size_t bytes) : alloc_(&alloc), data_(alloc.allocate(bytes)), bytes_(bytes) {}

Buffer::Buffer(Buffer&& o) noexcept : alloc_(o.alloc_), data_(o.data_), bytes_(o.bytes_) {
  o.alloc_ = nullptr;
  o.data_ = nullptr;
  o.bytes_ = 0;
}

Buffer& Buffer::operator=(Buffer&& o) noexcept {
  if (this != &o) {
    reset();
    alloc_ = o.alloc_;
    data_ = o.data_;
    bytes_ = o.bytes_;
    o.alloc_ = nullptr;
    o.data_ = nullptr;
    o.bytes_ = 0;
  }
  return *this;
}

Buffer::~Buffer() { reset(); }

void Buffer::reset() {
  if (alloc_ && data_) alloc_->deallocate(data_, bytes_);
  data_ = nullptr;
  bytes_ = 0;
}

Tensor Buffer::as(DType dtype, Shape shape) const {
  ROTOR_CHECK(shape.numel() * static_cast<int64_t>(dtype_size(dtype)) <= static_cast<int64_t>(bytes_),
              "buffer of {} bytes cannot hold {}{}", bytes_, dtype_name(dtype), shape.str());
  return Tensor(data_, dtype, shape, device());
}

OwnedTensor::OwnedTensor(Allocator& alloc, DType dtype, Shape shape)
    : buffer(alloc, static_cast<size_t>(shape.numel()) * dtype_size(dtype)), tensor(buffer.as(dtype, shape)) {}

}  // namespace rotor
