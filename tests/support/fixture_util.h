// tests/support/fixture_util.h — where the model fixtures are and how to read their references.
#pragma once
#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace rotor::test {

// ROTOR_FIXTURES (environment) or <shared>/fixtures.
inline std::filesystem::path fixtures_dir() {
  if (const char* e = std::getenv("ROTOR_FIXTURES")) return e;
  return std::filesystem::path(ROTOR_SHARED_DIR) / "fixtures";
}

// The repository's own fixtures (tests/fixtures: other configs, made by
// ../shared/reference/gen_fixtures.py from the *.config.json beside them).
inline std::filesystem::path repo_fixtures_dir() { return std::filesystem::path(ROTOR_SOURCE_DIR) / "tests" / "fixtures"; }

// Every bf16 model fixture (a directory with config.json and reference.json, not W8A8) in
// the shared fixtures and the repository's own; full paths.
inline std::vector<std::string> bf16_fixtures() {
  std::vector<std::string> out;
  for (const auto& dir : {fixtures_dir(), repo_fixtures_dir()}) {
    if (!std::filesystem::exists(dir)) continue;
    for (auto& e : std::filesystem::directory_iterator(dir))
      if (std::filesystem::exists(e.path() / "reference.json") && std::filesystem::exists(e.path() / "config.json") &&
          !std::filesystem::exists(e.path() / "quant_model_description.json"))
        out.push_back(e.path().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

// Every W8A8 fixture (quant_model_description.json and reference.json, as w8a8_ref.py writes).
inline std::vector<std::string> w8a8_fixtures() {
  std::vector<std::string> out;
  if (!std::filesystem::exists(fixtures_dir())) return out;
  for (auto& e : std::filesystem::directory_iterator(fixtures_dir()))
    if (std::filesystem::exists(e.path() / "reference.json") &&
        std::filesystem::exists(e.path() / "quant_model_description.json"))
      out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace rotor::test
