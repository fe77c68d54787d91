// structured/parser.cpp — hash-consed stack nodes (linear probing, backward-shift deletion for
// truncation) and the closure / advance steps of the pushdown automaton.
#include "structured/parser.h"

#include <algorithm>

namespace rotor::structured {

StackPool::StackPool() {
  slots_.assign(1024, -1);
  mask_ = slots_.size() - 1;
}

uint64_t StackPool::hash(int32_t state, int32_t parent) {
  uint64_t x = (static_cast<uint64_t>(static_cast<uint32_t>(state)) << 32) | static_cast<uint32_t>(parent);
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdull;
  x ^= x >> 33;
  return x;
}

void StackPool::grow() {
  slots_.assign(slots_.size() * 2, -1);
  mask_ = slots_.size() - 1;
  for (size_t id = 0; id < nodes_.size(); ++id) {
    size_t i = hash(nodes_[id].state, nodes_[id].parent) & mask_;
    while (slots_[i] >= 0) i = (i + 1) & mask_;
    slots_[i] = static_cast<int32_t>(id);
  }
}

int32_t StackPool::intern(int32_t state, int32_t parent) {
  size_t i = hash(state, parent) & mask_;
  for (; slots_[i] >= 0; i = (i + 1) & mask_) {
    const Node& n = nodes_[static_cast<size_t>(slots_[i])];
    if (n.state == state && n.parent == parent) return slots_[i];
  }
  const auto id = static_cast<int32_t>(nodes_.size());
  nodes_.push_back({state, parent});
  slots_[i] = id;
  if (nodes_.size() * 2 > slots_.size()) grow();
  return id;
}

void StackPool::truncate(size_t n) {
  while (nodes_.size() > n) {
    const Node& d = nodes_.back();
    const auto id = static_cast<int32_t>(nodes_.size() - 1);
    size_t i = hash(d.state, d.parent) & mask_;
    while (slots_[i] != id) i = (i + 1) & mask_;
    // Backward-shift deletion: move later entries of the probe run into the hole.
    for (size_t j = (i + 1) & mask_; slots_[j] >= 0; j = (j + 1) & mask_) {
      const Node& m = nodes_[static_cast<size_t>(slots_[j])];
      const size_t home = hash(m.state, m.parent) & mask_;
      // The entry at j may move to i when its home is not in the cyclic range (i, j].
      if (((j - home) & mask_) >= ((j - i) & mask_)) {
        slots_[i] = slots_[j];
        i = j;
      }
    }
    slots_[i] = -1;
    nodes_.pop_back();
  }
}

void Parser::begin(ParseState& st) {
  st.tops.clear();
  st.can_end = st.popped = false;
  if (++gen_ == 0) {
    std::fill(stamp_.begin(), stamp_.end(), 0);
    gen_ = 1;
  }
}

void Parser::finish(ParseState& st) const { std::sort(st.tops.begin(), st.tops.end()); }

void Parser::visit(int32_t n0, ParseState& st) {
  work_.clear();
  work_.push_back(n0);
  while (!work_.empty()) {
    const int32_t n = work_.back();
    work_.pop_back();
    if (static_cast<size_t>(n) >= stamp_.size()) stamp_.resize(pool_.size() * 2 + 64, 0);
    if (stamp_[static_cast<size_t>(n)] == gen_) continue;
    stamp_[static_cast<size_t>(n)] = gen_;
    const StackPool::Node nd = pool_.node(n);
    const AutomatonState& s = a_.states[static_cast<size_t>(nd.state)];
    if (s.bytes_end > s.bytes_begin) st.tops.push_back(n);
    for (uint32_t i = s.calls_begin; i < s.calls_end; ++i) {
      const CallEdge& c = a_.call_edges[i];
      const int32_t ret = a_.is_tail(c.target) ? nd.parent : pool_.intern(c.target, nd.parent);
      work_.push_back(pool_.intern(a_.rule_start[static_cast<size_t>(c.rule)], ret));
    }
    if (s.final) {
      if (nd.parent == kRootParent) st.can_end = true;
      else if (nd.parent == kContextParent) st.popped = true;
      else work_.push_back(nd.parent);
    }
  }
}

ParseState Parser::closure(int32_t node) {
  ParseState st;
  begin(st);
  visit(node, st);
  finish(st);
  return st;
}

bool Parser::advance(const ParseState& in, uint8_t byte, ParseState& out) {
  begin(out);
  for (int32_t n : in.tops) {
    const StackPool::Node nd = pool_.node(n);
    const int32_t t = a_.step(nd.state, byte);
    if (t >= 0) visit(pool_.intern(t, nd.parent), out);
  }
  finish(out);
  return !out.empty();
}

bool Parser::advance(const ParseState& in, std::string_view bytes, ParseState& out) {
  ParseState cur = in;
  for (char c : bytes) {
    if (!advance(cur, static_cast<uint8_t>(c), out)) return false;
    cur.tops.swap(out.tops);
    cur.can_end = out.can_end;
    cur.popped = out.popped;
  }
  out = std::move(cur);
  return true;
}

}  // namespace rotor::structured
