// kernels/cpu/fill_random.cpp — deterministic pseudo-random fill (dummy weights).
#include "core/bf16.h"
#include "core/hash_rng.h"
#include "kernels/cpu/cpu_kernels.h"

namespace rotor::cpu {

void fill_random(const Tensor& t, uint64_t seed, float mean, float std) {
  const int64_t n = t.numel();
  auto value = [=](int64_t i) { return mean + std * approx_normal(mix64(seed ^ mix64(static_cast<uint64_t>(i)))); };
  if (t.dtype() == DType::BF16) {
    uint16_t* p = t.data<uint16_t>();
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; ++i) p[i] = f32_to_bf16(value(i));
    return;
  }
  void* p = t.data();
  const DType dt = t.dtype();
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; ++i) store_f32(p, dt, i, value(i));
}

}  // namespace rotor::cpu
