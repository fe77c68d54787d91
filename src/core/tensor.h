// core/tensor.h — Tensor: a non-owning view (pointer, dtype, shape, strides, device).
// Memory is owned elsewhere: a Buffer (core/buffer.h), an mmap'd checkpoint, an arena.
#pragma once
#include <array>
#include <cstdint>
#include <initializer_list>
#include <string>

#include "core/error.h"
#include "core/dtype.h"

namespace rotor {

enum class DeviceType : uint8_t { CPU, CUDA };

struct Device {
  DeviceType type = DeviceType::CPU;
  int index = 0;
  bool is_cpu() const { return type == DeviceType::CPU; }
  bool operator==(const Device&) const = default;
  std::string str() const;
};

constexpr int kMaxDims = 4;

class Shape {
 public:
  Shape() = default;
  Shape(std::initializer_list<int64_t> dims);
  int ndim() const { return ndim_; }
  int64_t operator[](int i) const { return d_[i]; }
  int64_t& operator[](int i) { return d_[i]; }
  int64_t numel() const;
  bool operator==(const Shape& o) const;
  std::string str() const;  // "[2, 3]"
  void push_back(int64_t v);

 private:
  std::array<int64_t, kMaxDims> d_{};
  int ndim_ = 0;
};

class Tensor {
 public:
  Tensor() = default;
  // A contiguous (row-major) view.
  Tensor(void* data, DType dtype, Shape shape, Device device = {});

  bool defined() const { return data_ != nullptr || ndim() > 0; }
  void* data() const { return data_; }
  template <typename T>
  T* data() const { return static_cast<T*>(data_); }
  DType dtype() const { return dtype_; }
  Device device() const { return device_; }
  const Shape& shape() const { return shape_; }
  int ndim() const { return shape_.ndim(); }
  int64_t size(int dim) const { return shape_[dim < 0 ? dim + ndim() : dim]; }
  int64_t stride(int dim) const { return stride_[dim < 0 ? dim + ndim() : dim]; }
  int64_t numel() const { return shape_.numel(); }
  size_t nbytes() const { return static_cast<size_t>(numel()) * dtype_size(dtype_); }
  bool is_contiguous() const;

  // Same memory, new shape (contiguous only; one -1 is inferred).
  Tensor view(Shape shape) const;
  // Rows [begin, end) of dimension 0.
  Tensor rows(int64_t begin, int64_t end) const;
  // A strided view of [start, start+len) along dim.
  Tensor narrow(int dim, int64_t start, int64_t len) const;
  // Element pointer of an index along dim 0 (row start).
  void* row_ptr(int64_t row) const;

  std::string str() const;  // "bf16[4, 8] cpu"

 private:
  void* data_ = nullptr;
  DType dtype_ = DType::F32;
  Device device_{};
  Shape shape_{};
  std::array<int64_t, kMaxDims> stride_{};
};

// Throws a rotor::Error naming `what` unless t has this dtype and shape.
void expect(const Tensor& t, DType dtype, const Shape& shape, const std::string& what);

}  // namespace rotor
