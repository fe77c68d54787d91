// model/quantize/rotation.h — QuaRot's random-sign Hadamard rotation R = H D / sqrt(b): H the
// Sylvester Hadamard matrix (block-diagonal with blocks of b = the largest power of two
// dividing n when n is not one), D a seeded random ±1 diagonal. Orthogonal, so rotating the
// residual stream (readers W R, writers R^T W) leaves the float model's function unchanged.
// Applied with the fast Walsh-Hadamard transform: O(n log n) per row.
#pragma once
#include <cstdint>
#include <vector>

namespace rotor {

class Rotation {
 public:
  Rotation(int64_t n, uint64_t seed);
  int64_t size() const { return n_; }

  // Each of `rows` contiguous rows x [rows, n]: x <- x R.
  void right(double* x, int64_t rows) const;
  // w [n, cols] row-major: w <- R^T w.
  void left_transpose(double* w, int64_t cols) const;
  // w [rows, heads * n]: each row's head segments s <- s R (R2 on o_proj's input).
  void right_per_head(double* w, int64_t rows, int64_t heads) const;
  // w [heads * n, cols]: each head's block of n rows b <- R^T b (R2 on v_proj's output).
  void left_transpose_per_head(double* w, int64_t heads, int64_t cols) const;

 private:
  int64_t n_, block_;
  std::vector<double> signs_;  // [n] D's diagonal
};

}  // namespace rotor
