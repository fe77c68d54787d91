// tests/support/random_tensors.h — random test data: one generator with normal and uniform
// draws and host tensors of them (f32, bf16, int8). CPU tests seed it (reproducible figures);
// GPU tests draw a fresh seed each run, which they print: ROTOR_TEST_SEED=<seed> repeats a run's
// draws.
#pragma once
#include <cstdint>
#include <cstdlib>
#include <random>

#include "core/bf16.h"
#include "core/buffer.h"

namespace rotor::test {

// A fresh generator's seed: ROTOR_TEST_SEED when set, else a random one.
inline uint64_t test_seed() {
  const char* s = std::getenv("ROTOR_TEST_SEED");
  return s != nullptr ? std::strtoull(s, nullptr, 10) : std::random_device{}();
}

struct Rand {
  uint64_t seed;
  std::mt19937_64 g;
  explicit Rand(uint64_t s = test_seed()) : seed(s), g(s) {}
  float normal() { return std::normal_distribution<float>(0.0f, 1.0f)(g); }
  int uniform(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(g); }
  float uniform(float lo, float hi) { return std::uniform_real_distribution<float>(lo, hi)(g); }
  // Host tensors of N(0, scale) values, and of integers in [lo, hi].
  OwnedTensor f32(Shape s, float scale = 1.0f) {
    OwnedTensor t(cpu_allocator(), DType::F32, s);
    for (int64_t i = 0; i < t.tensor.numel(); ++i) t.tensor.data<float>()[i] = scale * normal();
    return t;
  }
  OwnedTensor bf16(Shape s, float scale = 1.0f) {
    OwnedTensor t(cpu_allocator(), DType::BF16, s);
    for (int64_t i = 0; i < t.tensor.numel(); ++i) t.tensor.data<uint16_t>()[i] = f32_to_bf16(scale * normal());
    return t;
  }
  OwnedTensor i8(Shape s, int lo = -127, int hi = 127) {
    OwnedTensor t(cpu_allocator(), DType::I8, s);
    for (int64_t i = 0; i < t.tensor.numel(); ++i) t.tensor.data<int8_t>()[i] = static_cast<int8_t>(uniform(lo, hi));
    return t;
  }
};

}  // namespace rotor::test
