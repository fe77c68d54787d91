// tokenizer/pre_tokenizer.h — the "pre_tokenizer" of tokenizer.json: splits normalized text
// into the pieces BPE merges within. Supported: Split (regex or literal pattern, every
// delimiter behaviour, invert), ByteLevel (add_prefix_space false; with use_regex, GPT-2's
// pattern) and Sequence of those. ByteLevel's byte-to-alphabet mapping is implicit: pieces
// stay raw bytes (BpeModel works on bytes).
#pragma once
#include <nlohmann/json_fwd.hpp>
#include <string_view>
#include <vector>

#include "tokenizer/regex.h"

namespace rotor {

class PreTokenizer {
 public:
  // From the "pre_tokenizer" value (null: the whole text is one piece).
  static PreTokenizer from_json(const nlohmann::json& j);
  // Appends the non-empty pieces of text, in order, to out (views into text).
  void split(std::string_view text, std::vector<std::string_view>& out) const;

 private:
  enum class Behavior { Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous };
  struct Step {
    Regex regex;
    Behavior behavior;
    bool invert;
  };
  static void add_steps(const nlohmann::json& j, std::vector<Step>& steps);
  static void apply(const Step& step, std::string_view text, std::vector<std::string_view>& out);

  std::vector<Step> steps_;
};

}  // namespace rotor
