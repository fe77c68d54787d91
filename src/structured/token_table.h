// structured/token_table.h — the vocabulary as a grammar sees it: the bytes of every token that
// can appear in text (special tokens such as <|im_end|> never match grammar text), sorted by
// bytes with each one's common prefix with the one before (so a walk over the sorted list
// shares parse work between tokens with a common prefix, and skips every token under a
// refused prefix), the width of the model's bitmask, and the tokens that end generation.
#pragma once
#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace rotor {
class Tokenizer;
}

namespace rotor::structured {

class TokenTable {
 public:
  // vocab_size: the model's (the bitmask width, may exceed the tokenizer's); stop_ids: the
  // tokens allowed once the grammar may end (eos).
  static std::shared_ptr<const TokenTable> from_tokenizer(const Tokenizer& tok, int vocab_size,
                                                          std::vector<int32_t> stop_ids);
  // tokens[id] = bytes ("" = never matched); for tests.
  static std::shared_ptr<const TokenTable> from_tokens(const std::vector<std::string>& tokens, int vocab_size,
                                                       std::vector<int32_t> stop_ids);

  int vocab_size() const { return vocab_size_; }
  int words() const { return (vocab_size_ + 31) / 32; }  // uint32 words of a bitmask
  size_t size() const { return sorted_.size(); }          // tokens a grammar can match
  int32_t id(size_t i) const { return sorted_[i]; }
  std::string_view bytes(size_t i) const { return by_id_[static_cast<size_t>(sorted_[i])]; }
  uint32_t lcp(size_t i) const { return lcp_[i]; }        // with the token sorted before
  int max_length() const { return max_length_; }
  // The first sorted index after i whose bytes do not start with bytes(i)[0, k).
  size_t prefix_end(size_t i, size_t k) const;
  // Bytes of a token id ("" for ids a grammar never matches).
  std::string_view bytes_of(int32_t id) const {
    return id >= 0 && id < vocab_size_ ? std::string_view(by_id_[static_cast<size_t>(id)]) : std::string_view();
  }
  std::span<const int32_t> stop_ids() const { return stop_ids_; }
  bool is_stop(int32_t id) const;
  // Bitmask of every token a grammar can match.
  std::span<const uint32_t> matchable() const { return matchable_; }

 private:
  void finish();
  int vocab_size_ = 0;
  int max_length_ = 0;
  std::vector<std::string> by_id_;
  std::vector<int32_t> sorted_;
  std::vector<uint32_t> lcp_;
  std::array<size_t, 256> first_byte_end_{};  // by first byte: the end of its tokens' run
  std::vector<int32_t> stop_ids_;
  std::vector<uint32_t> matchable_;
};

inline void set_bit(std::span<uint32_t> bits, int32_t id) {
  bits[static_cast<size_t>(id) >> 5] |= 1u << (id & 31);
}
inline bool test_bit(std::span<const uint32_t> bits, int32_t id) {
  return (bits[static_cast<size_t>(id) >> 5] >> (id & 31)) & 1u;
}

}  // namespace rotor::structured
