// model/quant_description.h — quant_model_description.json of a W8A8 checkpoint (msmodelslim's
// format, ../shared/docs/W8A8.md): tensor name -> W8A8 | W8A8_DYNAMIC | FLOAT. Its presence
// marks a quantized checkpoint; unknown non-tensor keys (version, metadata, ...) are ignored.
#pragma once
#include <filesystem>
#include <map>
#include <string>

namespace rotor {

enum class QuantType { Float, W8A8, W8A8Dynamic };

struct QuantDescription {
  static constexpr const char* kFileName = "quant_model_description.json";
  // The prefix of the weight files: quant_model_weight_w8a8*.safetensors (+ .index.json).
  static constexpr const char* kWeightPrefix = "quant_model_weight_w8a8";

  std::string model_quant_type;             // e.g. "W8A8"
  std::map<std::string, QuantType> tensors; // every tensor the description names

  static bool present(const std::filesystem::path& dir);
  // Parses and validates: a tensor of an unknown quantisation type is an error naming it.
  static QuantDescription load(const std::filesystem::path& dir);

  // The type of a tensor; a name the description does not list is FLOAT.
  QuantType type_of(const std::string& tensor) const;
};

const char* quant_type_name(QuantType t);

}  // namespace rotor
