// tests/tokenizer/tokenizer_test_util.h — shared helpers of the tokenizer tests: fixture paths,
// JSON case files, the Qwen3 tokenizer loaded once per test binary.
#pragma once
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "tokenizer/tokenizer.h"

namespace rotor::test {

inline std::filesystem::path shared_dir() { return ROTOR_SHARED_DIR; }
inline std::filesystem::path data_dir() { return std::filesystem::path(ROTOR_TEST_DATA_DIR); }

inline nlohmann::ordered_json read_json(const std::filesystem::path& p) {
  std::ifstream f(p);
  if (!f.good()) throw std::runtime_error("cannot open " + p.string());
  return nlohmann::ordered_json::parse(f);
}

inline const Tokenizer& qwen3() {
  static const std::shared_ptr<const Tokenizer> t = Tokenizer::embedded_qwen3();
  return *t;
}

}  // namespace rotor::test
