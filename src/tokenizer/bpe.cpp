// tokenizer/bpe.cpp — BPE vocabulary and merges from tokenizer.json, and the merge loop.
#include "tokenizer/bpe.h"

#include <algorithm>
#include <bit>
#include <nlohmann/json.hpp>
#include <queue>

#include "core/check.h"
#include "tokenizer/byte_level.h"

namespace rotor {
namespace {

// Pieces up to this many bytes merge by rescanning a rank array (fast for the usual short
// word); longer ones use a priority queue over a linked list (O(n log n) for long runs).
constexpr size_t kShortPiece = 48;

std::pair<std::string_view, std::string_view> merge_parts(const nlohmann::json& m, size_t rank) {
  if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string())
    return {m[0].get_ref<const std::string&>(), m[1].get_ref<const std::string&>()};
  if (m.is_string()) {
    const std::string_view s = m.get_ref<const std::string&>();
    const size_t sp = s.find(' ');
    if (sp != std::string_view::npos && s.find(' ', sp + 1) == std::string_view::npos)
      return {s.substr(0, sp), s.substr(sp + 1)};
  }
  ROTOR_FAIL("tokenizer.json: merge {} is not a pair of tokens: {}", rank, m.dump());
}

}  // namespace

BpeModel BpeModel::from_json(const nlohmann::json& model) {
  const std::string type = model.value("type", "BPE");
  ROTOR_CHECK(type == "BPE", "tokenizer.json: model type '{}' is not supported (only byte-level BPE)", type);
  ROTOR_CHECK(!model.value("byte_fallback", false), "tokenizer.json: BPE byte_fallback is not supported");
  ROTOR_CHECK(!model.contains("dropout") || model["dropout"].is_null(), "tokenizer.json: BPE dropout is not supported");
  for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"}) {
    ROTOR_CHECK(!model.contains(key) || model[key].is_null() || model[key].get<std::string>().empty(),
                "tokenizer.json: BPE {} is not supported", key);
  }
  ROTOR_CHECK(!model.contains("unk_token") || model["unk_token"].is_null(),
              "tokenizer.json: BPE unk_token is not supported (byte-level BPE has no unknown bytes)");
  ROTOR_CHECK(model.contains("vocab") && model["vocab"].is_object(), "tokenizer.json: model.vocab missing");
  ROTOR_CHECK(model.contains("merges") && model["merges"].is_array(), "tokenizer.json: model.merges missing");

  BpeModel b;
  b.ignore_merges_ = model.value("ignore_merges", false);
  const auto& vocab = model["vocab"];
  std::vector<std::pair<const std::string*, int32_t>> entries_by_key;
  entries_by_key.reserve(vocab.size());
  int64_t max_id = -1;
  for (const auto& [tok, idj] : vocab.items()) {
    ROTOR_CHECK(idj.is_number_integer() && idj.get<int64_t>() >= 0 && idj.get<int64_t>() < INT32_MAX,
                "tokenizer.json: vocab id of '{}' is not a valid id", tok);
    entries_by_key.emplace_back(&tok, idj.get<int32_t>());
    max_id = std::max(max_id, idj.get<int64_t>());
  }
  b.tokens_.assign(static_cast<size_t>(max_id + 1), std::string());
  std::vector<bool> seen(b.tokens_.size());
  for (const auto& [tok, id] : entries_by_key) {
    ROTOR_CHECK(!seen[static_cast<size_t>(id)], "tokenizer.json: vocab id {} is given to two tokens", id);
    seen[static_cast<size_t>(id)] = true;
    b.tokens_[static_cast<size_t>(id)] = *tok;
  }
  b.build_vocab_index(seen);
  if (b.ignore_merges_)
    for (size_t id = 0; id < b.tokens_.size(); ++id)
      if (seen[id]) b.bytes_vocab_.emplace(byte_level::token_bytes(b.tokens_[id]), static_cast<int32_t>(id));
  for (int c = 0; c < 256; ++c) b.byte_ids_[c] = b.token_to_id(byte_level::bytes_to_token(std::string(1, static_cast<char>(c))));

  const auto& merges = model["merges"];
  std::vector<PairEntry> entries;
  entries.reserve(merges.size());
  std::string joined;
  for (size_t rank = 0; rank < merges.size(); ++rank) {
    const auto [l, r] = merge_parts(merges[rank], rank);
    joined.assign(l);
    joined.append(r);
    const int32_t a = b.token_to_id(l), c = b.token_to_id(r), m = b.token_to_id(joined);
    ROTOR_CHECK(a >= 0 && c >= 0 && m >= 0, "tokenizer.json: merge {} ('{}' '{}') uses a token not in the vocabulary",
                rank, l, r);
    entries.push_back({(static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(c),
                       static_cast<uint32_t>(rank), m});
  }
  b.num_merges_ = entries.size();
  b.build_pairs(entries);
  return b;
}

void BpeModel::build_pairs(const std::vector<PairEntry>& entries) {
  size_t cap = 16;
  while (cap < entries.size() * 2) cap <<= 1;
  pairs_.assign(cap, PairEntry{kEmpty, kNoRank, -1});
  pair_mask_ = cap - 1;
  pair_shift_ = 64 - std::countr_zero(cap);
  for (const PairEntry& e : entries) {
    size_t i = (e.key * 0x9E3779B97F4A7C15ull) >> pair_shift_;
    while (pairs_[i].key != kEmpty && pairs_[i].key != e.key) i = (i + 1) & pair_mask_;
    pairs_[i] = e;  // a repeated pair keeps its last rank, as a HashMap collect does
  }
}

void BpeModel::build_vocab_index(const std::vector<bool>& present) {
  size_t cap = 16;
  while (cap < tokens_.size() * 2) cap <<= 1;
  vocab_slots_.assign(cap, VocabSlot{0, -1});
  vocab_mask_ = cap - 1;
  for (size_t id = 0; id < tokens_.size(); ++id) {
    if (!present[id]) continue;
    const size_t h = std::hash<std::string_view>()(tokens_[id]);
    size_t i = h & vocab_mask_;
    while (vocab_slots_[i].id >= 0) i = (i + 1) & vocab_mask_;
    vocab_slots_[i] = {static_cast<uint32_t>(h >> 32), static_cast<int32_t>(id)};
  }
}

int32_t BpeModel::token_to_id(std::string_view token) const {
  if (vocab_slots_.empty()) return -1;
  const size_t h = std::hash<std::string_view>()(token);
  const auto tag = static_cast<uint32_t>(h >> 32);
  for (size_t i = h & vocab_mask_;; i = (i + 1) & vocab_mask_) {
    const VocabSlot& s = vocab_slots_[i];
    if (s.id < 0) return -1;
    if (s.tag == tag && tokens_[static_cast<size_t>(s.id)] == token) return s.id;
  }
}

void BpeModel::encode(std::string_view piece, std::vector<int32_t>& out) const {
  if (piece.empty()) return;
  if (ignore_merges_) {
    const auto it = bytes_vocab_.find(std::string(piece));
    if (it != bytes_vocab_.end()) {
      out.push_back(it->second);
      return;
    }
  }
  // Single bytes without a vocabulary entry are dropped (tokenizers does so without unk_token).
  int32_t small[kShortPiece];
  std::vector<int32_t> large;
  int32_t* ids = small;
  if (piece.size() > kShortPiece) {
    large.resize(piece.size());
    ids = large.data();
  }
  size_t n = 0;
  for (char c : piece) {
    const int32_t id = byte_ids_[static_cast<uint8_t>(c)];
    if (id >= 0) ids[n++] = id;
  }
  if (n <= kShortPiece) merge_short(ids, n, out);
  else merge_long(ids, n, out);
}

void BpeModel::merge_short(const int32_t* in, size_t n, std::vector<int32_t>& out) const {
  if (n <= 1) {
    if (n == 1) out.push_back(in[0]);
    return;
  }
  int32_t ids[kShortPiece];
  uint32_t rank[kShortPiece];    // rank[i]: merge rank of the pair (ids[i], ids[i+1])
  int32_t merged[kShortPiece];   // merged[i]: the id that pair merges into
  std::copy(in, in + n, ids);
  auto look = [&](size_t i) {
    const PairEntry* e = find_pair(ids[i], ids[i + 1]);
    rank[i] = e ? e->rank : kNoRank;
    merged[i] = e ? e->merged : -1;
  };
  for (size_t i = 0; i + 1 < n; ++i) look(i);
  while (n > 1) {
    size_t best = 0;
    for (size_t i = 1; i + 1 < n; ++i)
      if (rank[i] < rank[best]) best = i;
    if (rank[best] == kNoRank) break;
    ids[best] = merged[best];
    for (size_t i = best + 1; i + 1 < n; ++i) {
      ids[i] = ids[i + 1];
      rank[i] = rank[i + 1];
      merged[i] = merged[i + 1];
    }
    --n;
    if (best + 1 < n) look(best);
    else rank[best] = kNoRank;
    if (best > 0) look(best - 1);
  }
  out.insert(out.end(), ids, ids + n);
}

void BpeModel::merge_long(const int32_t* in, size_t n, std::vector<int32_t>& out) const {
  struct Symbol {
    int32_t id;
    int32_t prev, next;  // neighbours in the list, -1 at the ends
    bool alive;
  };
  struct Candidate {
    uint32_t rank;
    int32_t pos;  // index of the left symbol; positions never move
    int32_t merged;
    bool operator>(const Candidate& o) const { return rank != o.rank ? rank > o.rank : pos > o.pos; }
  };
  std::vector<Symbol> sym(n);
  for (size_t i = 0; i < n; ++i)
    sym[i] = {in[i], static_cast<int32_t>(i) - 1, i + 1 < n ? static_cast<int32_t>(i + 1) : -1, true};
  std::priority_queue<Candidate, std::vector<Candidate>, std::greater<Candidate>> queue;
  auto push = [&](int32_t pos) {
    const int32_t nx = sym[static_cast<size_t>(pos)].next;
    if (nx < 0) return;
    if (const PairEntry* e = find_pair(sym[static_cast<size_t>(pos)].id, sym[static_cast<size_t>(nx)].id))
      queue.push({e->rank, pos, e->merged});
  };
  for (size_t i = 0; i + 1 < n; ++i) push(static_cast<int32_t>(i));
  while (!queue.empty()) {
    const Candidate top = queue.top();
    queue.pop();
    Symbol& left = sym[static_cast<size_t>(top.pos)];
    if (!left.alive || left.next < 0) continue;
    Symbol& right = sym[static_cast<size_t>(left.next)];
    // Skip entries made stale by an earlier merge of either symbol.
    const PairEntry* e = find_pair(left.id, right.id);
    if (!e || e->merged != top.merged) continue;
    left.id = top.merged;
    right.alive = false;
    left.next = right.next;
    if (right.next >= 0) sym[static_cast<size_t>(right.next)].prev = top.pos;
    if (left.prev >= 0) push(left.prev);
    push(top.pos);
  }
  for (int32_t i = 0; i >= 0; i = sym[static_cast<size_t>(i)].next) out.push_back(sym[static_cast<size_t>(i)].id);
}

}  // namespace rotor
