// structured/compiled_grammar.cpp — the per-class token masks: a walk over the sorted
// vocabulary from a stack whose only frame is the class's position over an unknown caller,
// sharing the parse of common prefixes and skipping every token under a refused prefix.
#include "structured/compiled_grammar.h"

#include <chrono>
#include <map>

#include "structured/parser.h"

namespace rotor::structured {
namespace {

double ms_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t).count();
}

PositionMasks precompute(Parser& p, const TokenTable& t, int32_t state, const std::bitset<256>& follow) {
  StackPool& pool = p.pool();
  const size_t mark = pool.size();
  std::vector<ParseState> lv(static_cast<size_t>(t.max_length()) + 1);
  lv[0] = p.closure(pool.intern(state, kContextParent));
  size_t valid = 0;  // lv[0..valid] are the states after the first d bytes of the last token walked
  std::vector<int32_t> accepted;
  std::map<std::string, std::vector<int32_t>> uncertain;
  for (size_t i = 0; i < t.size();) {
    const std::string_view b = t.bytes(i);
    size_t d = std::min<size_t>(t.lcp(i), valid);
    bool ok = true;
    for (; d < b.size(); ++d)
      if (!p.advance(lv[d], static_cast<uint8_t>(b[d]), lv[d + 1])) {
        ok = false;
        break;
      }
    valid = d;
    if (ok) {
      accepted.push_back(t.id(i++));
      continue;
    }
    // Refused at byte d inside the rule: the caller may still take the rest of the token
    // from any offset where the rule could end, if the byte there can follow the rule.
    bool any = false;
    for (size_t o = 0; o <= d; ++o)
      if (lv[o].popped && follow.test(static_cast<uint8_t>(b[o]))) {
        uncertain[std::string(b.substr(o))].push_back(t.id(i));
        any = true;
      }
    // Otherwise every token that starts with b[0, d] is refused the same way.
    i = any ? i + 1 : t.prefix_end(i, d + 1);
  }
  pool.truncate(mark);

  PositionMasks m;
  m.num_accepted = accepted.size();
  const size_t list_bytes = accepted.size() * 4, reject_bytes = (t.size() - accepted.size()) * 4,
               bits_bytes = static_cast<size_t>(t.words()) * 4;
  if (list_bytes <= reject_bytes && list_bytes <= bits_bytes) {
    m.kind = PositionMasks::Kind::Accept;
    m.ids = std::move(accepted);
  } else if (reject_bytes <= bits_bytes) {
    m.kind = PositionMasks::Kind::Reject;
    std::vector<uint32_t> acc(static_cast<size_t>(t.words()), 0);
    for (int32_t id : accepted) set_bit(acc, id);
    for (int32_t id = 0; id < t.vocab_size(); ++id)  // ascending ids (add_accepted walks them by word)
      if (test_bit(t.matchable(), id) && !test_bit(acc, id)) m.ids.push_back(id);
  } else {
    m.kind = PositionMasks::Kind::Bits;
    m.bits.assign(static_cast<size_t>(t.words()), 0);
    for (int32_t id : accepted) set_bit(m.bits, id);
  }
  for (auto& [suffix, ids] : uncertain) {
    m.suffixes.push_back(suffix);
    m.suffix_tokens.push_back(std::move(ids));
  }
  return m;
}

}  // namespace

void PositionMasks::add_accepted(std::span<uint32_t> mask, std::span<const uint32_t> matchable) const {
  switch (kind) {
    case Kind::Accept:
      for (int32_t id : ids) set_bit(mask, id);
      return;
    case Kind::Bits:
      for (size_t w = 0; w < mask.size(); ++w) mask[w] |= bits[w];
      return;
    case Kind::Reject: {
      // mask |= matchable minus ids: ids are sorted, so walk them word by word.
      size_t k = 0;
      for (size_t w = 0; w < mask.size(); ++w) {
        uint32_t word = matchable[w];
        for (; k < ids.size() && (static_cast<size_t>(ids[k]) >> 5) == w; ++k) word &= ~(1u << (ids[k] & 31));
        mask[w] |= word;
      }
      return;
    }
  }
}

std::shared_ptr<const CompiledGrammar> CompiledGrammar::compile(const Grammar& g,
                                                                std::shared_ptr<const TokenTable> tokens) {
  auto cg = std::make_shared<CompiledGrammar>();
  auto t0 = std::chrono::steady_clock::now();
  AutomatonLimits lim;
  lim.horizon = tokens->max_length() + 1;
  cg->automaton_ = Automaton::build(g, lim);
  cg->stats_.automaton_ms = ms_since(t0);
  cg->tokens_ = std::move(tokens);
  const Automaton& a = cg->automaton_;
  t0 = std::chrono::steady_clock::now();
  StackPool pool;
  Parser parser(a, pool);
  cg->masks_.reserve(a.class_state.size());
  for (int32_t s : a.class_state) {
    cg->masks_.push_back(precompute(parser, *cg->tokens_, s, a.follow[static_cast<size_t>(a.states[static_cast<size_t>(s)].rule)]));
    for (const auto& ids : cg->masks_.back().suffix_tokens) cg->stats_.uncertain_tokens += ids.size();
  }
  cg->stats_.masks_ms = ms_since(t0);
  cg->stats_.states = a.states.size();
  cg->stats_.classes = a.class_state.size();
  return cg;
}

}  // namespace rotor::structured
