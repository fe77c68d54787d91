// tests/support/fuzz_inputs.h — what the seeded fuzz tests share: their counts and seeds read
// from the environment (ROTOR_FUZZ_INPUTS, ROTOR_TEST_SEED) and printed, and a printable
// excerpt of an input for a failure's message.
#pragma once
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include <fmt/format.h>

namespace rotor::test {

// A decimal environment variable, else `fallback` (anything but digits stops the binary).
inline uint64_t env_number(const char* name, uint64_t fallback) {
  const char* s = std::getenv(name);
  if (s == nullptr) return fallback;
  char* end = nullptr;
  const unsigned long long v = std::strtoull(s, &end, 10);
  if (*s == '\0' || *end != '\0') {
    std::fprintf(stderr, "%s=%s: expected a decimal integer\n", name, s);
    std::exit(2);
  }
  return v;
}

// The run's seed and input count, and the variables that repeat it.
inline void print_seed(const char* what, uint64_t seed, uint64_t inputs) {
  std::printf("%s: seed %llu, %llu inputs (ROTOR_TEST_SEED=%llu ROTOR_FUZZ_INPUTS=%llu repeats this run)\n", what,
              static_cast<unsigned long long>(seed), static_cast<unsigned long long>(inputs),
              static_cast<unsigned long long>(seed), static_cast<unsigned long long>(inputs));
}

// The input's first `limit` printable bytes (others as \xNN), and its size where it is longer.
inline std::string excerpt(const std::string& s, size_t limit = 300) {
  std::string out;
  for (size_t i = 0; i < s.size() && out.size() < limit; ++i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c < 0x7f) out += static_cast<char>(c);
    else out += fmt::format("\\x{:02x}", c);
  }
  return s.size() > limit ? out + fmt::format("... ({} bytes)", s.size()) : out;
}

}  // namespace rotor::test
