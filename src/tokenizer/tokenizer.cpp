// tokenizer/tokenizer.cpp — loading tokenizer.json and the encode / decode pipelines.
#include "tokenizer/tokenizer.h"

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/check.h"
#include "tokenizer/byte_level.h"
#include "tokenizer/embedded.h"
#include "tokenizer/utf8.h"

namespace rotor {

std::shared_ptr<const Tokenizer> Tokenizer::from_json(std::string_view text) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    ROTOR_FAIL("tokenizer.json is not valid JSON: {}", e.what());
  }
  ROTOR_CHECK(j.is_object() && j.contains("model"), "tokenizer.json: no model");
  auto t = std::make_shared<Tokenizer>();
  t->model_ = BpeModel::from_json(j["model"]);
  t->normalizer_ = Normalizer::from_json(j.value("normalizer", nlohmann::json()));
  t->pre_tokenizer_ = PreTokenizer::from_json(j.value("pre_tokenizer", nlohmann::json()));
  const nlohmann::json decoder = j.value("decoder", nlohmann::json());
  ROTOR_CHECK(decoder.is_object() && decoder.value("type", "") == "ByteLevel",
              "tokenizer.json: decoder {} is not supported (only ByteLevel)", decoder.dump());
  if (j.contains("added_tokens") && j["added_tokens"].is_array())
    for (const auto& a : j["added_tokens"]) t->added_.push_back(AddedToken::from_json(a));

  // Per-id table: vocabulary tokens, then added tokens (which win for decoding).
  const auto& tokens = t->model_.tokens();
  int32_t size = static_cast<int32_t>(tokens.size());
  for (const AddedToken& a : t->added_) size = std::max(size, a.id + 1);
  t->ids_.resize(static_cast<size_t>(size));
  for (size_t id = 0; id < tokens.size(); ++id) {
    if (tokens[id].empty() && t->model_.token_to_id(tokens[id]) != static_cast<int32_t>(id)) continue;
    t->ids_[id] = {byte_level::token_bytes(tokens[id]), true, false, tokens[id]};
  }
  std::vector<AddedToken> raw, norm;
  std::vector<std::string> raw_p, norm_p;
  for (AddedToken& a : t->added_) {
    ROTOR_CHECK(a.id >= 0, "tokenizer.json: added token '{}' has a negative id", a.content);
    // A normalized token is known (and decodes) by its normalized content, as in tokenizers.
    const std::string shown = a.normalized ? t->normalizer_.apply(utf8::repair(a.content)) : a.content;
    t->ids_[static_cast<size_t>(a.id)] = {byte_level::token_bytes(shown), true, a.special, shown};
    if (a.content.empty()) continue;
    if (a.normalized) {
      norm.push_back(a);
      norm_p.push_back(shown);
    } else {
      raw.push_back(a);
      raw_p.push_back(a.content);
    }
  }
  t->raw_matcher_ = AddedTokenMatcher(std::move(raw), std::move(raw_p));
  t->normalized_matcher_ = AddedTokenMatcher(std::move(norm), std::move(norm_p));
  return t;
}

std::shared_ptr<const Tokenizer> Tokenizer::from_file(const std::filesystem::path& path) {
  std::ifstream f(path, std::ios::binary);
  ROTOR_CHECK(f.good(), "cannot open tokenizer file {}", path.string());
  std::stringstream ss;
  ss << f.rdbuf();
  try {
    return from_json(ss.str());
  } catch (const Error& e) {
    ROTOR_FAIL("{}: {}", path.string(), e.what());
  }
}

std::shared_ptr<const Tokenizer> Tokenizer::embedded_qwen3() {
  static const std::shared_ptr<const Tokenizer> t = from_json(embedded::qwen3_tokenizer_json());
  return t;
}

std::string Tokenizer::id_to_token(int32_t id) const {
  return contains(id) ? ids_[static_cast<size_t>(id)].token : std::string();
}

std::optional<int32_t> Tokenizer::token_to_id(std::string_view token) const {
  for (const AddedToken& a : added_)
    if (a.content == token) return a.id;
  const int32_t id = model_.token_to_id(token);
  return id >= 0 ? std::optional<int32_t>(id) : std::nullopt;
}

void Tokenizer::encode_text(std::string_view text, std::vector<int32_t>& out,
                            std::vector<std::string_view>& words) const {
  words.clear();
  pre_tokenizer_.split(text, words);
  for (std::string_view w : words) model_.encode(w, out);
}

std::vector<int32_t> Tokenizer::encode(std::string_view input) const {
  std::string repaired;
  std::string_view text = input;
  if (!utf8::is_valid(input)) {
    repaired = utf8::repair(input);
    text = repaired;
  }
  std::vector<int32_t> out;
  out.reserve(text.size() / 3 + 4);
  std::vector<std::string_view> words;
  std::vector<AddedTokenMatcher::Span> spans, inner;
  // 1. Added tokens that match the raw text; 2. normalize the rest and find the added tokens
  // that match normalized text; 3. pre-tokenize and BPE what is left.
  raw_matcher_.split(text, spans);
  for (const auto& s : spans) {
    if (s.id >= 0) {
      out.push_back(s.id);
      continue;
    }
    const std::string_view piece = text.substr(s.begin, s.end - s.begin);
    if (piece.empty()) continue;
    std::string normalized;
    std::string_view norm = piece;
    if (!normalizer_.is_identity()) {
      normalized = normalizer_.apply(piece);
      norm = normalized;
    }
    if (normalized_matcher_.empty()) {
      encode_text(norm, out, words);
      continue;
    }
    inner.clear();
    normalized_matcher_.split(norm, inner);
    for (const auto& n : inner) {
      if (n.id >= 0) out.push_back(n.id);
      else encode_text(norm.substr(n.begin, n.end - n.begin), out, words);
    }
  }
  return out;
}

std::string Tokenizer::decode(std::span<const int32_t> ids, bool skip_special_tokens) const {
  std::string bytes;
  for (int32_t id : ids) {
    if (!contains(id)) continue;
    const IdInfo& info = ids_[static_cast<size_t>(id)];
    if (skip_special_tokens && info.special) continue;
    bytes += info.bytes;
  }
  return utf8::repair(bytes);
}

}  // namespace rotor
