// bench/tokenizer.cpp — encode speed of a 16k-token prompt on one core (not a
// test; compare with tokenizer_hf.py, which times Hugging Face tokenizers on the same text).
//   build/cpu/bench/rotor_bench_tokenizer [--tokens N] FILE...
// The files are concatenated (repeated as needed) and cut to the first N tokens (default 16384).
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <sstream>

#include "tokenizer/tokenizer.h"

namespace {

double thread_seconds() {
  timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) * 1e-9;
}

double wall_seconds() {
  timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) * 1e-9;
}

}  // namespace

int main(int argc, char** argv) {
  size_t want = 16384;
  std::string corpus;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--tokens") == 0 && i + 1 < argc) {
      want = std::stoul(argv[++i]);
      continue;
    }
    std::ifstream f(argv[i], std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    corpus += ss.str();
  }
  if (corpus.empty()) {
    std::fprintf(stderr, "usage: rotor_bench_tokenizer [--tokens N] FILE...\n");
    return 1;
  }
  double t0 = wall_seconds();
  const auto tok = rotor::Tokenizer::embedded_qwen3();
  std::printf("load (embedded, zstd + JSON): %.0f ms\n", (wall_seconds() - t0) * 1e3);
  std::string text = corpus;
  std::vector<int32_t> ids = tok->encode(text);
  while (ids.size() < want) {
    text += corpus;
    ids = tok->encode(text);
  }
  text = tok->decode(std::span(ids).first(want));
  double best_cpu = 1e9, best_wall = 1e9;
  for (int r = 0; r < 30; ++r) {
    const double c = thread_seconds(), w = wall_seconds();
    ids = tok->encode(text);
    best_cpu = std::min(best_cpu, thread_seconds() - c);
    best_wall = std::min(best_wall, wall_seconds() - w);
  }
  std::printf("encode: %zu bytes -> %zu tokens: best of 30: %.2f ms thread CPU, %.2f ms wall\n", text.size(),
              ids.size(), best_cpu * 1e3, best_wall * 1e3);
  return 0;
}
