// structured/matcher.cpp — accepting tokens, filling the next-token bitmask, rollback.
#include "structured/matcher.h"

#include <algorithm>
#include <cstring>

#include "core/check.h"

namespace rotor::structured {

GrammarMatcher::GrammarMatcher(std::shared_ptr<const CompiledGrammar> grammar)
    : g_(std::move(grammar)), parser_(g_->automaton(), pool_) {
  const Automaton& a = g_->automaton();
  Entry start;
  start.state = parser_.closure({a.rule_start[static_cast<size_t>(a.root)], kRootParent});
  history_.push_back(std::move(start));
  levels_.resize(static_cast<size_t>(g_->tokens().max_length()) + 1);
}

bool GrammarMatcher::accept_token(int32_t token) {
  const Entry& cur = history_.back();
  if (cur.stop) return false;
  const TokenTable& t = g_->tokens();
  if (t.is_stop(token)) {
    if (!cur.state.can_end) return false;
    Entry e;
    e.state = cur.state;
    e.stop = true;
    history_.push_back(std::move(e));
    return true;
  }
  const std::string_view bytes = t.bytes_of(token);
  return !bytes.empty() && accept_bytes(bytes);
}

bool GrammarMatcher::accept_bytes(std::string_view bytes) {
  if (history_.back().stop) return false;
  const size_t mark = pool_.size();
  Entry e;
  if (!parser_.advance(history_.back().state, bytes, e.state)) {
    pool_.truncate(mark);
    return false;
  }
  history_.push_back(std::move(e));
  return true;
}

void GrammarMatcher::rollback(int n) {
  ROTOR_CHECK(n >= 0 && n <= num_accepted(), "grammar matcher: rollback of {} tokens with {} accepted", n,
              num_accepted());
  history_.resize(history_.size() - static_cast<size_t>(n));
}

void GrammarMatcher::add_suffixes(const ParseState& cont, const PositionMasks& m, std::span<uint32_t> bitmask) {
  levels_[0] = cont;
  size_t valid = 0;  // levels_[0..valid]: the states after the first d bytes of the last suffix
  for (size_t k = 0; k < m.suffixes.size(); ++k) {
    const std::string& s = m.suffixes[k];
    size_t d = 0;
    if (k > 0) {
      const std::string& prev = m.suffixes[k - 1];
      while (d < valid && d < s.size() && d < prev.size() && s[d] == prev[d]) ++d;
    }
    bool ok = true;
    for (; d < s.size(); ++d)
      if (!parser_.advance(levels_[d], static_cast<uint8_t>(s[d]), levels_[d + 1])) {
        ok = false;
        break;
      }
    valid = d;
    if (ok)
      for (int32_t id : m.suffix_tokens[k]) set_bit(bitmask, id);
  }
}

// A tail call pushes nothing, so the callee's start runs over the caller's frames: every
// token that stack takes, the caller's top takes too (a chain of optional members reaches
// each later member's rule this way: ~n tops, each its own class). Left recursion is refused,
// so each covered top is reached from one that is not.
void GrammarMatcher::find_covered(const std::vector<Top>& tops) {
  const Automaton& a = g_->automaton();
  covered_.clear();
  const auto tail_calls = [&](const Top& t) {
    const AutomatonState& s = a.states[static_cast<size_t>(t.state)];
    for (uint32_t i = s.calls_begin; i < s.calls_end; ++i)
      if (a.is_tail(a.call_edges[i].target)) return true;
    return false;
  };
  if (tops.size() < 2 || std::none_of(tops.begin(), tops.end(), tail_calls)) return;
  expanded_.clear();
  for (const Top& top : tops) {
    if (!expanded_.insert(top)) continue;
    work_.assign(1, top.state);
    while (!work_.empty()) {
      const AutomatonState& s = a.states[static_cast<size_t>(work_.back())];
      work_.pop_back();
      for (uint32_t i = s.calls_begin; i < s.calls_end; ++i) {
        const CallEdge& c = a.call_edges[i];
        if (!a.is_tail(c.target)) continue;
        const Top callee{a.rule_start[static_cast<size_t>(c.rule)], top.parent};
        covered_.insert(callee);
        if (expanded_.insert(callee)) work_.push_back(callee.state);
      }
    }
  }
}

void GrammarMatcher::fill_bitmask(std::span<uint32_t> bitmask) {
  const TokenTable& t = g_->tokens();
  ROTOR_CHECK(bitmask.size() == static_cast<size_t>(t.words()), "grammar matcher: a bitmask of {} words for {} tokens",
              bitmask.size(), t.vocab_size());
  std::memset(bitmask.data(), 0, bitmask.size_bytes());
  const Entry& cur = history_.back();
  if (!cur.stop) {
    const Automaton& a = g_->automaton();
    const size_t mark = pool_.size();
    done_.clear();
    find_covered(cur.state.tops);
    for (const Top& node : cur.state.tops) {
      if (!covered_.empty() && covered_.contains(node)) continue;
      const int32_t cls = a.state_class[static_cast<size_t>(node.state)];
      const PositionMasks& m = g_->masks_of_state(node.state);
      const bool seen_class = std::any_of(done_.begin(), done_.end(), [&](const auto& d) { return d.first == cls; });
      if (!seen_class) m.add_accepted(bitmask, t.matchable());
      // A rule ending inside a token hands the rest to the caller; the root has none.
      if (m.suffixes.empty() || node.parent < 0) {
        if (!seen_class) done_.emplace_back(cls, kRootParent);
        continue;
      }
      if (std::find(done_.begin(), done_.end(), std::make_pair(cls, node.parent)) != done_.end()) continue;
      done_.emplace_back(cls, node.parent);
      const StackPool::Node& below = pool_.node(node.parent);
      add_suffixes(parser_.closure({below.state, below.parent}), m, bitmask);
    }
    pool_.truncate(mark);
  }
  if (cur.state.can_end || cur.stop)
    for (int32_t id : t.stop_ids()) set_bit(bitmask, id);
}

}  // namespace rotor::structured
