// core/tensor.cpp — Tensor views and shape arithmetic.
#include "core/tensor.h"
#include "core/check.h"

#include <fmt/format.h>

namespace rotor {

std::string Device::str() const {
  return type == DeviceType::CPU ? std::string("cpu") : fmt::format("cuda:{}", index);
}

Shape::Shape(std::initializer_list<int64_t> dims) {
  ROTOR_CHECK(dims.size() <= kMaxDims, "tensor rank {} exceeds {}", dims.size(), kMaxDims);
  for (int64_t d : dims) d_[ndim_++] = d;
}

void Shape::push_back(int64_t v) {
  ROTOR_CHECK(ndim_ < kMaxDims, "tensor rank exceeds {}", kMaxDims);
  d_[ndim_++] = v;
}

int64_t Shape::numel() const {
  int64_t n = 1;
  for (int i = 0; i < ndim_; ++i) n *= d_[i];
  return n;
}

bool Shape::operator==(const Shape& o) const {
  if (ndim_ != o.ndim_) return false;
  for (int i = 0; i < ndim_; ++i)
    if (d_[i] != o.d_[i]) return false;
  return true;
}

std::string Shape::str() const {
  std::string s = "[";
  for (int i = 0; i < ndim_; ++i) s += (i ? ", " : "") + std::to_string(d_[i]);
  return s + "]";
}

Tensor::Tensor(void* data, DType dtype, Shape shape, Device device)
    : data_(data), dtype_(dtype), device_(device), shape_(shape) {
  int64_t s = 1;
  for (int i = shape_.ndim() - 1; i >= 0; --i) {
    stride_[i] = s;
    s *= shape_[i];
  }
}

bool Tensor::is_contiguous() const {
  int64_t s = 1;
  for (int i = ndim() - 1; i >= 0; --i) {
    if (shape_[i] != 1 && stride_[i] != s) return false;
    s *= shape_[i];
  }
  return true;
}

Tensor Tensor::view(Shape shape) const {
  ROTOR_CHECK(is_contiguous(), "view of a non-contiguous tensor {}", str());
  int infer = -1;
  int64_t known = 1;
  for (int i = 0; i < shape.ndim(); ++i) {
    if (shape[i] == -1) {
      ROTOR_CHECK(infer < 0, "view {} has two -1", shape.str());
      infer = i;
    } else {
      known *= shape[i];
    }
  }
  if (infer >= 0) shape[infer] = known ? numel() / known : 0;
  ROTOR_CHECK(shape.numel() == numel(), "cannot view {} as {}", shape_.str(), shape.str());
  return Tensor(data_, dtype_, shape, device_);
}

Tensor Tensor::rows(int64_t begin, int64_t end) const { return narrow(0, begin, end - begin); }

Tensor Tensor::narrow(int dim, int64_t start, int64_t len) const {
  if (dim < 0) dim += ndim();
  ROTOR_CHECK(dim >= 0 && dim < ndim() && start >= 0 && len >= 0 && start + len <= shape_[dim],
              "narrow({}, {}, {}) out of range for {}", dim, start, len, str());
  Tensor t = *this;
  t.shape_[dim] = len;
  t.data_ = static_cast<char*>(data_) + start * stride_[dim] * static_cast<int64_t>(dtype_size(dtype_));
  return t;
}

void* Tensor::row_ptr(int64_t row) const {
  return static_cast<char*>(data_) + row * stride_[0] * static_cast<int64_t>(dtype_size(dtype_));
}

std::string Tensor::str() const {
  return fmt::format("{}{} {}", dtype_name(dtype_), shape_.str(), device_.str());
}

void expect(const Tensor& t, DType dtype, const Shape& shape, const std::string& what) {
  ROTOR_CHECK(t.dtype() == dtype, "{}: dtype {} where {} was expected", what, dtype_name(t.dtype()),
              dtype_name(dtype));
  ROTOR_CHECK(t.shape() == shape, "{}: shape {} where {} was expected", what, t.shape().str(), shape.str());
}

}  // namespace rotor
