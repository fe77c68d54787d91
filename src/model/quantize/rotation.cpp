// model/quantize/rotation.cpp — the random-sign (block-)Hadamard rotation via the fast
// Walsh-Hadamard transform, rows in parallel.
#include "model/quantize/rotation.h"

#include <cmath>
#include <random>

namespace rotor {
namespace {

// x <- x H_b on each block of b consecutive elements of x [n] (natural/Sylvester order).
void fwht(double* x, int64_t n, int64_t b) {
  for (int64_t base = 0; base < n; base += b)
    for (int64_t h = 1; h < b; h *= 2)
      for (int64_t i = base; i < base + b; i += 2 * h)
        for (int64_t j = i; j < i + h; ++j) {
          const double a = x[j], c = x[j + h];
          x[j] = a + c;
          x[j + h] = a - c;
        }
}

}  // namespace

Rotation::Rotation(int64_t n, uint64_t seed) : n_(n), block_(n & -n), signs_(n) {
  std::mt19937_64 g(seed);
  for (double& s : signs_) s = (g() & 1) ? 1.0 : -1.0;
}

void Rotation::right(double* x, int64_t rows) const {
  const double norm = 1.0 / std::sqrt(static_cast<double>(block_));
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < rows; ++r) {
    double* row = x + r * n_;
    fwht(row, n_, block_);
    for (int64_t j = 0; j < n_; ++j) row[j] *= signs_[j] * norm;
  }
}

void Rotation::left_transpose(double* w, int64_t cols) const {
  // (R^T w)[i, :] = s_i / sqrt(b) * sum_k H[i, k] w[k, :]: the transform runs down the columns,
  // whole rows at a time.
  const double norm = 1.0 / std::sqrt(static_cast<double>(block_));
  for (int64_t base = 0; base < n_; base += block_)
    for (int64_t h = 1; h < block_; h *= 2)
#pragma omp parallel for schedule(static)
      for (int64_t p = 0; p < block_ / 2; ++p) {  // the block's b/2 row pairs (j, j + h) of this stage
        const int64_t j = base + (p / h) * 2 * h + p % h;
        double* a = w + j * cols;
        double* c = w + (j + h) * cols;
        for (int64_t k = 0; k < cols; ++k) {
          const double x = a[k], y = c[k];
          a[k] = x + y;
          c[k] = x - y;
        }
      }
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n_; ++i)
    for (int64_t k = 0; k < cols; ++k) w[i * cols + k] *= signs_[i] * norm;
}

void Rotation::right_per_head(double* w, int64_t rows, int64_t heads) const { right(w, rows * heads); }

void Rotation::left_transpose_per_head(double* w, int64_t heads, int64_t cols) const {
  for (int64_t h = 0; h < heads; ++h) left_transpose(w + h * n_ * cols, cols);
}

}  // namespace rotor
