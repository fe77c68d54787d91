// model/quant_description.cpp — parsing and validation of quant_model_description.json.
#include "model/quant_description.h"

#include <fstream>
#include <nlohmann/json.hpp>

#include "core/check.h"

namespace rotor {
namespace fs = std::filesystem;

bool QuantDescription::present(const fs::path& dir) { return fs::is_regular_file(dir / kFileName); }

QuantDescription QuantDescription::load(const fs::path& dir) {
  std::ifstream f(dir / kFileName);
  ROTOR_CHECK(f, "cannot read {}", (dir / kFileName).string());
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(f);
  } catch (const nlohmann::json::exception& e) {
    ROTOR_FAIL("{}: not valid JSON ({})", kFileName, e.what());
  }
  ROTOR_CHECK(j.is_object(), "{}: not a JSON object", kFileName);
  QuantDescription d;
  for (auto& [key, value] : j.items()) {
    if (key == "model_quant_type" && value.is_string()) {
      d.model_quant_type = value.get<std::string>();
      continue;
    }
    // Tensor entries are dotted names with a string type; anything else is a setting we ignore.
    if (!value.is_string() || key.find('.') == std::string::npos) continue;
    const std::string t = value.get<std::string>();
    if (t == "FLOAT")
      d.tensors[key] = QuantType::Float;
    else if (t == "W8A8")
      d.tensors[key] = QuantType::W8A8;
    else if (t == "W8A8_DYNAMIC")
      d.tensors[key] = QuantType::W8A8Dynamic;
    else
      ROTOR_FAIL("{}: tensor '{}' has quantisation type '{}', which rotor does not support (W8A8, W8A8_DYNAMIC, "
                 "FLOAT)",
                 kFileName, key, t);
  }
  ROTOR_CHECK(!d.tensors.empty(), "{}: names no tensor", kFileName);
  return d;
}

QuantType QuantDescription::type_of(const std::string& tensor) const {
  auto it = tensors.find(tensor);
  return it == tensors.end() ? QuantType::Float : it->second;
}

const char* quant_type_name(QuantType t) {
  switch (t) {
    case QuantType::Float: return "FLOAT";
    case QuantType::W8A8: return "W8A8";
    case QuantType::W8A8Dynamic: return "W8A8_DYNAMIC";
  }
  return "?";
}

}  // namespace rotor
