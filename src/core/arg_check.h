// core/arg_check.h — checking a function's tensor arguments against what it needs, with errors
// that name the function, the argument and the property that failed:
//   "gemm_w8a8: x_q must be I8 contiguous [M, K] = [4, 64], got F32[4, 64] cpu".
// The ops' contract (kernels/op_contract) and the backends' own limits are written with it.
#pragma once
#include <cstdint>
#include <initializer_list>
#include <string>

#include "core/tensor.h"

namespace rotor {

// A set of dtypes: DTypes(DType::F32) | DType::BF16.
class DTypes {
 public:
  constexpr DTypes() = default;
  constexpr DTypes(DType d) : bits_(1u << static_cast<unsigned>(d)) {}
  constexpr DTypes operator|(DTypes o) const { return DTypes(bits_ | o.bits_); }
  constexpr bool contains(DType d) const { return (bits_ >> static_cast<unsigned>(d)) & 1u; }
  std::string str() const;  // "F32, F16 or BF16"

 private:
  constexpr explicit DTypes(uint32_t bits) : bits_(bits) {}
  uint32_t bits_ = 0;
};

// Any float type an op reads; the float types an op writes.
inline constexpr DTypes kFloatIn = DTypes(DType::F32) | DType::F16 | DType::BF16;
inline constexpr DTypes kFloatOut = DTypes(DType::F32) | DType::BF16;

// How the elements of a tensor must lie in memory.
enum class Layout : uint8_t {
  Rows,        // the last dimension has unit stride; rows may be apart (a column slice)
  Contiguous,  // row-major without gaps
};

// One dimension an argument must have: its name in the contract and its size.
struct Dim {
  const char* name;
  int64_t size;
};

// t must be a tensor of one of `dtypes`, laid out as `layout`, of exactly the shape `dims`.
void expect_tensor(const char* op, const char* name, const Tensor& t, DTypes dtypes, Layout layout,
                   std::initializer_list<Dim> dims);
// t must hold n elements of one of `dtypes`, contiguous (a vector of any rank: [n] or [n, 1]).
void expect_vector(const char* op, const char* name, const Tensor& t, DTypes dtypes, Dim n);
// t (when defined) must live on `device`, the backend's.
void expect_on(const char* op, const char* name, const Tensor& t, const Device& device);

}  // namespace rotor
