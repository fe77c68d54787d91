// tokenizer/bpe.h — the byte-level BPE model of a tokenizer.json ("model": {"type": "BPE"}):
// vocabulary, merges, and the merge loop that turns one pre-tokenized piece into token ids.
// The loop is Hugging Face tokenizers' BPE::merge_word without dropout: apply the merge of
// lowest rank first, the leftmost among equal ranks, until no adjacent pair has a merge.
// Pieces are raw bytes: the byte-level alphabet of the vocabulary is translated away at load.
#pragma once
#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace rotor {

class BpeModel {
 public:

  // Parses the "model" object of tokenizer.json; raises rotor::Error on what it cannot run
  // (byte fallback, dropout, subword prefixes/suffixes, merges of tokens not in the vocab).
  static BpeModel from_json(const nlohmann::json& model);

  // Appends the ids of one piece of raw bytes to out.
  void encode(std::string_view piece, std::vector<int32_t>& out) const;

  // The id of a vocabulary token (spelled in the byte-level alphabet), or -1.
  int32_t token_to_id(std::string_view token) const;
  // Every token string by id; empty strings for ids the vocabulary skips.
  const std::vector<std::string>& tokens() const { return tokens_; }
  size_t num_merges() const { return num_merges_; }

 private:
  // Open-addressing table: pair of ids → (rank, merged id).
  struct PairEntry {
    uint64_t key;
    uint32_t rank;
    int32_t merged;
  };
  static constexpr uint64_t kEmpty = ~0ull;
  static constexpr uint32_t kNoRank = ~0u;

  void build_pairs(const std::vector<PairEntry>& entries);
  const PairEntry* find_pair(int32_t a, int32_t b) const {
    const uint64_t key = (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
    size_t i = (key * 0x9E3779B97F4A7C15ull) >> pair_shift_;
    for (;;) {
      const PairEntry& e = pairs_[i];
      if (e.key == key) return &e;
      if (e.key == kEmpty) return nullptr;
      i = (i + 1) & pair_mask_;
    }
  }
  void merge_short(const int32_t* ids, size_t n, std::vector<int32_t>& out) const;
  void merge_long(const int32_t* ids, size_t n, std::vector<int32_t>& out) const;

  // Open-addressing index: token string (byte-level alphabet) → id, keyed by tokens_.
  struct VocabSlot {
    uint32_t tag;  // high hash bits, to skip most string compares
    int32_t id;    // -1: empty
  };
  void build_vocab_index(const std::vector<bool>& present);
  std::vector<VocabSlot> vocab_slots_;
  size_t vocab_mask_ = 0;
  std::unordered_map<std::string, int32_t> bytes_vocab_;  // raw bytes → id (ignore_merges only)
  std::vector<std::string> tokens_;                 // id → token string
  int32_t byte_ids_[256];                           // id of each single byte, -1 if none
  std::vector<PairEntry> pairs_;
  size_t pair_mask_ = 0;
  int pair_shift_ = 64;
  size_t num_merges_ = 0;
  bool ignore_merges_ = false;
};

}  // namespace rotor
