// tokenizer/tokenizer.h — text ↔ token ids for a Hugging Face tokenizer.json with a byte-level
// BPE model (the Qwen2/Qwen3 family), exactly as the `tokenizers` library does it:
//
//   encode: added tokens are found in the raw text first (special ones too: "<|im_start|>" in
//   text becomes its id), the rest is normalized (NFC), split by the pre-tokenizer regex, and
//   each piece is merged by BPE; = Tokenizer.encode(text, add_special_tokens=False).ids
//   decode: every id's token bytes, concatenated, read as UTF-8 with U+FFFD for invalid
//   sequences; = Tokenizer.decode(ids, skip_special_tokens).
//
// Invalid UTF-8 in the text to encode is not an error: each maximal invalid subsequence is
// replaced by U+FFFD before encoding (tokenizer/utf8.h). Ids that are not in the vocabulary
// are skipped by decode, as tokenizers does (a model's embedding table may be larger).
// A Tokenizer is immutable after loading and safe to use from many threads at once.
#pragma once
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/added_tokens.h"
#include "tokenizer/bpe.h"
#include "tokenizer/normalizer.h"
#include "tokenizer/pre_tokenizer.h"

namespace rotor {

class Tokenizer {
 public:
  // Parses the text of a tokenizer.json; raises rotor::Error for what it cannot run.
  static std::shared_ptr<const Tokenizer> from_json(std::string_view tokenizer_json);
  static std::shared_ptr<const Tokenizer> from_file(const std::filesystem::path& tokenizer_json);
  // The Qwen3 tokenizer compiled into the binary (tokenizer/embedded.h), loaded once.
  static std::shared_ptr<const Tokenizer> embedded_qwen3();

  std::vector<int32_t> encode(std::string_view text) const;
  std::string decode(std::span<const int32_t> ids, bool skip_special_tokens = false) const;

  // 1 + the largest id of the vocabulary and the added tokens.
  int32_t vocab_size() const { return static_cast<int32_t>(ids_.size()); }
  bool contains(int32_t id) const { return id >= 0 && id < vocab_size() && ids_[static_cast<size_t>(id)].present; }
  bool is_special(int32_t id) const { return contains(id) && ids_[static_cast<size_t>(id)].special; }
  // The raw bytes id decodes to (possibly part of a UTF-8 character); empty if not contained.
  std::string_view token_bytes(int32_t id) const {
    return contains(id) ? std::string_view(ids_[static_cast<size_t>(id)].bytes) : std::string_view();
  }
  // The token string (byte-level alphabet for BPE tokens; an added token's content, normalized
  // if the token is), "" if absent.
  std::string id_to_token(int32_t id) const;
  // The id of an added token's content or of a vocabulary token string.
  std::optional<int32_t> token_to_id(std::string_view token) const;
  const std::vector<AddedToken>& added_tokens() const { return added_; }

 private:
  struct IdInfo {
    std::string bytes;  // what decode emits
    bool present = false;
    bool special = false;
    std::string token;  // the token string
  };
  void encode_text(std::string_view text, std::vector<int32_t>& out, std::vector<std::string_view>& words) const;

  BpeModel model_;
  Normalizer normalizer_;
  PreTokenizer pre_tokenizer_;
  std::vector<AddedToken> added_;
  AddedTokenMatcher raw_matcher_;         // added tokens with normalized == false
  AddedTokenMatcher normalized_matcher_;  // added tokens with normalized == true
  std::vector<IdInfo> ids_;
};

}  // namespace rotor
