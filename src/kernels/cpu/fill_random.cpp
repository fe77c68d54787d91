// kernels/cpu/fill_random.cpp — deterministic pseudo-random fill (dummy weights).
#include "core/hash_rng.h"
#include "kernels/cpu/cpu_kernels.h"

namespace rotor::cpu {

void fill_random(const Tensor& t, uint64_t seed, float mean, float std) {
  ROTOR_CHECK(t.is_contiguous(), "fill_random: {} is not contiguous", t.str());
  const int64_t n = t.numel();
  void* p = t.data();
  const DType dt = t.dtype();
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; ++i) store_f32(p, dt, i, mean + std * approx_normal(mix64(seed ^ mix64(i))));
}

}  // namespace rotor::cpu
