// tests/model/fixture_util.h — where the model fixtures are and how to read their references.
#pragma once
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

// Every bf16 model fixture (a directory with model*.safetensors and reference.json).
inline std::vector<std::string> bf16_fixtures() {
  std::vector<std::string> out;
  if (!std::filesystem::exists(fixtures_dir())) return out;
  for (auto& e : std::filesystem::directory_iterator(fixtures_dir()))
    if (std::filesystem::exists(e.path() / "reference.json") && std::filesystem::exists(e.path() / "config.json") &&
        !std::filesystem::exists(e.path() / "quant_model_description.json"))
      out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace rotor::test
