// tokenizer/pre_tokenizer.cpp — Split / ByteLevel / Sequence pre-tokenizers, with the
// delimiter behaviours of tokenizers' NormalizedString::split.
#include "tokenizer/pre_tokenizer.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "core/check.h"

namespace rotor {
namespace {

// GPT-2's pattern, used by ByteLevel with use_regex.
constexpr const char* kGpt2Pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

}  // namespace

void PreTokenizer::add_steps(const nlohmann::json& j, std::vector<Step>& steps) {
  if (j.is_null()) return;
  ROTOR_CHECK(j.is_object() && j.contains("type"), "tokenizer.json: pre_tokenizer without a type");
  const std::string type = j["type"].get<std::string>();
  if (type == "Sequence") {
    for (const auto& p : j.at("pretokenizers")) add_steps(p, steps);
  } else if (type == "ByteLevel") {
    ROTOR_CHECK(!j.value("add_prefix_space", false), "tokenizer.json: ByteLevel add_prefix_space is not supported");
    if (j.value("use_regex", true)) steps.push_back({Regex(kGpt2Pattern), Behavior::Isolated, false});
  } else if (type == "Split") {
    const auto& pat = j.at("pattern");
    const std::string b = j.value("behavior", "Isolated");
    Behavior behavior;
    if (b == "Removed") behavior = Behavior::Removed;
    else if (b == "Isolated") behavior = Behavior::Isolated;
    else if (b == "MergedWithPrevious") behavior = Behavior::MergedWithPrevious;
    else if (b == "MergedWithNext") behavior = Behavior::MergedWithNext;
    else if (b == "Contiguous") behavior = Behavior::Contiguous;
    else ROTOR_FAIL("tokenizer.json: Split behavior '{}' is not supported", b);
    const bool invert = j.value("invert", false);
    if (pat.contains("Regex")) steps.push_back({Regex(pat["Regex"].get<std::string>()), behavior, invert});
    else if (pat.contains("String")) steps.push_back({Regex::literal(pat["String"].get<std::string>()), behavior, invert});
    else ROTOR_FAIL("tokenizer.json: Split pattern must be Regex or String");
  } else {
    ROTOR_FAIL("tokenizer.json: pre_tokenizer '{}' is not supported (Split, ByteLevel, Sequence)", type);
  }
}

PreTokenizer PreTokenizer::from_json(const nlohmann::json& j) {
  PreTokenizer p;
  add_steps(j, p.steps_);
  return p;
}

void PreTokenizer::apply(const Step& step, std::string_view text, std::vector<std::string_view>& out) {
  // Matches and the gaps between them cover the text: (begin, end, is_match).
  struct Part {
    size_t begin, end;
    bool match;
  };
  std::vector<std::pair<size_t, size_t>> found;
  step.regex.find_all(text, found);
  std::vector<Part> parts;
  parts.reserve(found.size() * 2 + 1);
  size_t prev = 0;
  for (const auto& [b, e] : found) {
    if (prev != b) parts.push_back({prev, b, step.invert});
    parts.push_back({b, e, !step.invert});
    prev = e;
  }
  if (prev != text.size()) parts.push_back({prev, text.size(), step.invert});

  // Each behaviour folds the parts into kept spans, as NormalizedString::split does.
  std::vector<std::pair<size_t, size_t>> spans;
  spans.reserve(parts.size());
  bool previous_match = false;
  switch (step.behavior) {
    case Behavior::Isolated:
      for (const Part& p : parts) spans.emplace_back(p.begin, p.end);
      break;
    case Behavior::Removed:
      for (const Part& p : parts)
        if (!p.match) spans.emplace_back(p.begin, p.end);
      break;
    case Behavior::Contiguous:
      for (const Part& p : parts) {
        if (p.match == previous_match && !spans.empty()) spans.back().second = p.end;
        else spans.emplace_back(p.begin, p.end);
        previous_match = p.match;
      }
      break;
    case Behavior::MergedWithPrevious:
      for (const Part& p : parts) {
        if (p.match && !previous_match && !spans.empty()) spans.back().second = p.end;
        else spans.emplace_back(p.begin, p.end);
        previous_match = p.match;
      }
      break;
    case Behavior::MergedWithNext:
      for (size_t k = parts.size(); k-- > 0;) {
        const Part& p = parts[k];
        if (p.match && !previous_match && !spans.empty()) spans.back().first = p.begin;
        else spans.emplace_back(p.begin, p.end);
        previous_match = p.match;
      }
      std::reverse(spans.begin(), spans.end());
      break;
  }
  for (const auto& [b, e] : spans)
    if (e > b) out.push_back(text.substr(b, e - b));
}

void PreTokenizer::split(std::string_view text, std::vector<std::string_view>& out) const {
  if (text.empty()) return;
  if (steps_.empty()) {
    out.push_back(text);
    return;
  }
  if (steps_.size() == 1) {
    apply(steps_[0], text, out);
    return;
  }
  std::vector<std::string_view> cur{text}, next;
  for (const Step& s : steps_) {
    next.clear();
    for (std::string_view piece : cur) apply(s, piece, next);
    cur.swap(next);
  }
  out.insert(out.end(), cur.begin(), cur.end());
}

}  // namespace rotor
