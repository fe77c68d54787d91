// structured/token_table.cpp — building the sorted vocabulary from a Tokenizer.
#include "structured/token_table.h"

#include <algorithm>

#include "core/check.h"
#include "tokenizer/tokenizer.h"

namespace rotor::structured {

std::shared_ptr<const TokenTable> TokenTable::from_tokenizer(const Tokenizer& tok, int vocab_size,
                                                             std::vector<int32_t> stop_ids) {
  std::vector<std::string> tokens(static_cast<size_t>(std::max(vocab_size, 0)));
  for (int32_t id = 0; id < std::min(vocab_size, tok.vocab_size()); ++id)
    if (tok.contains(id) && !tok.is_special(id)) tokens[static_cast<size_t>(id)] = tok.token_bytes(id);
  return from_tokens(tokens, vocab_size, std::move(stop_ids));
}

std::shared_ptr<const TokenTable> TokenTable::from_tokens(const std::vector<std::string>& tokens, int vocab_size,
                                                          std::vector<int32_t> stop_ids) {
  ROTOR_CHECK(vocab_size > 0 && tokens.size() <= static_cast<size_t>(vocab_size),
              "token table: {} tokens for a vocabulary of {}", tokens.size(), vocab_size);
  auto t = std::make_shared<TokenTable>();
  t->vocab_size_ = vocab_size;
  t->by_id_ = tokens;
  t->by_id_.resize(static_cast<size_t>(vocab_size));
  for (int32_t s : stop_ids) {
    ROTOR_CHECK(s >= 0 && s < vocab_size, "token table: stop token {} outside the vocabulary", s);
    t->by_id_[static_cast<size_t>(s)].clear();  // a stop token is never grammar text
  }
  std::sort(stop_ids.begin(), stop_ids.end());
  stop_ids.erase(std::unique(stop_ids.begin(), stop_ids.end()), stop_ids.end());
  t->stop_ids_ = std::move(stop_ids);
  t->finish();
  return t;
}

void TokenTable::finish() {
  for (size_t id = 0; id < by_id_.size(); ++id)
    if (!by_id_[id].empty()) sorted_.push_back(static_cast<int32_t>(id));
  std::sort(sorted_.begin(), sorted_.end(), [&](int32_t a, int32_t b) {
    return by_id_[static_cast<size_t>(a)] < by_id_[static_cast<size_t>(b)];
  });
  lcp_.assign(sorted_.size(), 0);
  matchable_.assign(static_cast<size_t>(words()), 0);
  for (size_t i = 0; i < sorted_.size(); ++i) {
    const std::string_view b = bytes(i);
    max_length_ = std::max(max_length_, static_cast<int>(b.size()));
    set_bit(matchable_, sorted_[i]);
    if (i == 0) continue;
    const std::string_view p = bytes(i - 1);
    uint32_t k = 0;
    while (k < p.size() && k < b.size() && p[k] == b[k]) ++k;
    lcp_[i] = k;
  }
  // Tokens are not empty, so each first byte's tokens are one run.
  first_byte_end_.fill(0);
  for (size_t i = 0; i < sorted_.size(); ++i) first_byte_end_[static_cast<uint8_t>(bytes(i)[0])] = i + 1;
}

size_t TokenTable::prefix_end(size_t i, size_t k) const {
  const std::string_view b = bytes(i);
  const size_t group_end = first_byte_end_[static_cast<uint8_t>(b[0])];
  if (k == 1) return group_end;
  // Galloping from i (the run under a refused prefix is mostly short), then a binary search.
  const std::string_view prefix = b.substr(0, k);
  const auto inside = [&](size_t j) { return bytes(j).substr(0, k) == prefix; };
  size_t lo = i, step = 1;  // bytes(lo) starts with prefix
  while (lo + step < group_end && inside(lo + step)) lo += step, step *= 2;
  size_t hi = std::min(lo + step, group_end);  // the first index known not to start with it
  while (hi - lo > 1) {
    const size_t mid = lo + (hi - lo) / 2;
    (inside(mid) ? lo : hi) = mid;
  }
  return hi;
}

bool TokenTable::is_stop(int32_t id) const { return std::binary_search(stop_ids_.begin(), stop_ids_.end(), id); }

}  // namespace rotor::structured
