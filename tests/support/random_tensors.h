// tests/support/random_tensors.h — random test data: one generator with normal and uniform
// draws and host tensors of them (f32, bf16, int8). CPU tests seed it (reproducible figures);
// GPU tests draw a fresh seed each run, which they print: ROTOR_TEST_SEED=<seed> repeats a run's
// draws.
#pragma once
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <random>

#include "core/bf16.h"
#include "core/buffer.h"

namespace rotor::test {

// A fresh generator's seed: ROTOR_TEST_SEED when set (a decimal integer; anything else stops
// the test binary with one line), else a random one.
inline uint64_t test_seed() {
  const char* s = std::getenv("ROTOR_TEST_SEED");
  if (s == nullptr) return std::random_device{}();
  char* end = nullptr;
  const unsigned long long v = std::strtoull(s, &end, 10);
  if (*s == '\0' || *end != '\0') {
    std::fprintf(stderr, "ROTOR_TEST_SEED=%s: expected a decimal integer\n", s);
    std::exit(2);
  }
  return v;
}

struct Rand {
  uint64_t seed;
  std::mt19937_64 g;
  explicit Rand(uint64_t s = test_seed()) : seed(s), g(s) {}
  // The seed on stdout, with the variable that repeats these draws.
  void print_seed() const {
    std::printf("random seed %llu (ROTOR_TEST_SEED=%llu repeats this test's draws)\n",
                static_cast<unsigned long long>(seed), static_cast<unsigned long long>(seed));
  }
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
