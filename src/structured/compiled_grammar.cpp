// structured/compiled_grammar.cpp — the per-class token masks: a walk over the sorted
// vocabulary from a stack whose only frame is the class's position over an unknown caller,
// sharing the parse of common prefixes and skipping every token under a refused prefix; at
// compile, the classes nearest the start first, within a time budget.
#include "structured/compiled_grammar.h"

#include <algorithm>
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
  lv[0] = p.closure({state, kContextParent});
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
    if (!ok) {
      // No context takes b[0, d]: neither does any token that starts with it.
      i = t.prefix_end(i, d + 1);
      continue;
    }
    const ParseState& end = lv[b.size()];
    const bool inside = end.popped || std::any_of(end.tops.begin(), end.tops.end(), [&](const Top& x) {
                          return pool.bottom(x.parent) == kContextParent;
                        });
    if (inside) {
      accepted.push_back(t.id(i));
    } else {
      // Only through the end of the rule: the real caller decides, from each offset where
      // the rule could end (with a byte that can follow it).
      for (size_t o = 0; o < b.size(); ++o)
        if (lv[o].popped && follow.test(static_cast<uint8_t>(b[o]))) uncertain[std::string(b.substr(o))].push_back(t.id(i));
    }
    ++i;
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

std::vector<int32_t> classes_by_distance(const Automaton& a) {
  std::vector<char> seen(a.states.size(), 0), listed(a.class_state.size(), 0);
  std::vector<int32_t> order, queue;
  auto reach = [&](int32_t s) {
    if (s >= 0 && !seen[static_cast<size_t>(s)]) seen[static_cast<size_t>(s)] = 1, queue.push_back(s);
  };
  auto list = [&](int32_t c) {
    if (c >= 0 && !listed[static_cast<size_t>(c)]) listed[static_cast<size_t>(c)] = 1, order.push_back(c);
  };
  reach(a.rule_start[static_cast<size_t>(a.root)]);
  for (size_t q = 0; q < queue.size(); ++q) {
    const AutomatonState& st = a.states[static_cast<size_t>(queue[q])];
    list(a.state_class[static_cast<size_t>(queue[q])]);
    for (uint32_t i = st.bytes_begin; i < st.bytes_end; ++i) reach(a.byte_edges[i].target);
    for (uint32_t i = st.calls_begin; i < st.calls_end; ++i) {
      reach(a.rule_start[static_cast<size_t>(a.call_edges[i].rule)]);
      reach(a.call_edges[i].target);
    }
  }
  for (size_t c = 0; c < a.class_state.size(); ++c) list(static_cast<int32_t>(c));
  return order;
}

const PositionMasks& CompiledGrammar::masks_of_class(int32_t cls) const {
  std::call_once(computed_[static_cast<size_t>(cls)], [&] {
    const auto t0 = std::chrono::steady_clock::now();
    StackPool pool;
    Parser parser(automaton_, pool, &callers_);
    const int32_t s = automaton_.class_state[static_cast<size_t>(cls)];
    PositionMasks m = precompute(parser, *tokens_, s,
                                 automaton_.follow[static_cast<size_t>(automaton_.states[static_cast<size_t>(s)].rule)]);
    size_t uncertain = 0;
    for (const auto& ids : m.suffix_tokens) uncertain += ids.size();
    masks_[static_cast<size_t>(cls)] = std::move(m);
    std::lock_guard lk(stats_mu_);
    stats_.masks_ms += ms_since(t0);
    stats_.uncertain_tokens += uncertain;
    ++stats_.classes_computed;
  });
  return masks_[static_cast<size_t>(cls)];
}

CompileStats CompiledGrammar::stats() const {
  std::lock_guard lk(stats_mu_);
  return stats_;
}

std::shared_ptr<const CompiledGrammar> CompiledGrammar::compile(const Grammar& g,
                                                                std::shared_ptr<const TokenTable> tokens,
                                                                double masks_ms) {
  auto cg = std::make_shared<CompiledGrammar>();
  const auto t0 = std::chrono::steady_clock::now();
  AutomatonLimits lim;
  lim.horizon = tokens->max_length() + 1;
  cg->automaton_ = Automaton::build(g, lim);
  cg->tokens_ = std::move(tokens);
  const size_t classes = cg->automaton_.class_state.size();
  cg->callers_ = caller_tops(cg->automaton_);
  cg->masks_.resize(classes);
  cg->computed_ = std::make_unique<std::once_flag[]>(classes);
  cg->stats_.automaton_ms = ms_since(t0);
  cg->stats_.states = cg->automaton_.states.size();
  cg->stats_.classes = classes;
  if (masks_ms > 0) {
    // Checked before each class: one class may overrun the budget (a few tens of ms at most).
    const auto m0 = std::chrono::steady_clock::now();
    for (int32_t c : classes_by_distance(cg->automaton_)) {
      if (ms_since(m0) >= masks_ms) break;
      cg->masks_of_class(c);
    }
  }
  return cg;
}

}  // namespace rotor::structured
