// tests/support/fixture_util.h — where the model fixtures are and how to read their references.
#pragma once
#include <algorithm>
#include <cctype>
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

// A W8A8 fixture (w8a8_ref.py writes quant_model_description.json beside the int8 weights).
inline bool is_w8a8_fixture(const std::filesystem::path& dir) {
  return std::filesystem::exists(dir / "quant_model_description.json");
}

// Every bf16 model fixture (a directory with config.json and reference.json, not W8A8) in
// the shared fixtures and the repository's own; full paths.
inline std::vector<std::string> bf16_fixtures() {
  std::vector<std::string> out;
  for (const auto& dir : {fixtures_dir(), repo_fixtures_dir()}) {
    if (!std::filesystem::exists(dir)) continue;
    for (auto& e : std::filesystem::directory_iterator(dir))
      if (std::filesystem::exists(e.path() / "reference.json") && std::filesystem::exists(e.path() / "config.json") &&
          !is_w8a8_fixture(e.path()))
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
    if (std::filesystem::exists(e.path() / "reference.json") && is_w8a8_fixture(e.path()))
      out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

// The same W8A8 fixtures as full paths.
inline std::vector<std::string> w8a8_fixture_dirs() {
  std::vector<std::string> out;
  for (const std::string& d : w8a8_fixtures()) out.push_back((fixtures_dir() / d).string());
  return out;
}

// A parameterised test's name for a fixture (a path or a directory name): the directory's name
// with every character gtest does not take as '_'. Use: [](const auto& i) { return fixture_name(i.param); }
inline std::string fixture_name(const std::string& path) {
  std::string n = std::filesystem::path(path).filename().string();
  for (char& c : n)
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  return n;
}

}  // namespace rotor::test
