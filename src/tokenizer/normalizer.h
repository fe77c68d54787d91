// tokenizer/normalizer.h — the "normalizer" of tokenizer.json: Unicode normalization forms
// (NFC, NFD, NFKC, NFKD; utf8proc) alone or in a Sequence. Qwen3 uses NFC.
#pragma once
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace rotor {

class Normalizer {
 public:
  // From the "normalizer" value (null: identity); raises rotor::Error for unsupported types.
  static Normalizer from_json(const nlohmann::json& j);
  bool is_identity() const { return forms_.empty(); }
  // Normalizes valid UTF-8 text.
  std::string apply(std::string_view text) const;

 private:
  std::vector<int> forms_;  // utf8proc option sets, applied in order
};

}  // namespace rotor
