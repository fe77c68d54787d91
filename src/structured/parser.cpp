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
  nodes_.push_back({state, parent, bottom(parent)});
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

void TopSet::clear() {
  count_ = 0;
  if (++gen_ == 0) {
    for (Entry& e : slots_) e.gen = 0;
    gen_ = 1;
  }
}

size_t TopSet::slot(Top t) const {
  const size_t mask = slots_.size() - 1;
  size_t i = (static_cast<uint64_t>(static_cast<uint32_t>(t.state)) * 0x9E3779B97F4A7C15ull ^
              static_cast<uint32_t>(t.parent) * 0xC2B2AE3D27D4EB4Full) >> 40 & mask;
  while (slots_[i].gen == gen_ && !(slots_[i].top == t)) i = (i + 1) & mask;
  return i;
}

bool TopSet::insert(Top t) {
  if ((count_ + 1) * 2 > slots_.size()) {
    // Grow, keeping the current entries.
    std::vector<Entry> old(slots_.size() * 2, Entry{{0, 0}, 0});
    old.swap(slots_);
    count_ = 0;
    for (const Entry& e : old)
      if (e.gen == gen_) insert(e.top);
  }
  const size_t i = slot(t);
  if (slots_[i].gen == gen_) return false;
  slots_[i] = {t, gen_};
  ++count_;
  return true;
}

bool TopSet::contains(Top t) const { return slots_[slot(t)].gen == gen_; }

void Parser::begin(ParseState& st) {
  st.tops.clear();
  st.can_end = st.popped = false;
  seen_.clear();
}

void Parser::finish(ParseState& st) const { std::sort(st.tops.begin(), st.tops.end()); }

void Parser::visit(Top t0, ParseState& st) {
  work_.clear();
  work_.push_back(t0);
  while (!work_.empty()) {
    const Top t = work_.back();
    work_.pop_back();
    if (!seen_.insert(t)) continue;
    const AutomatonState& s = a_.states[static_cast<size_t>(t.state)];
    if (s.bytes_end > s.bytes_begin) st.tops.push_back(t);
    for (uint32_t i = s.calls_begin; i < s.calls_end; ++i) {
      const CallEdge& c = a_.call_edges[i];
      const int32_t ret = a_.is_tail(c.target) ? t.parent : pool_.intern(c.target, t.parent);
      work_.push_back({a_.rule_start[static_cast<size_t>(c.rule)], ret});
    }
    if (s.final) {
      if (t.parent == kRootParent) {
        st.can_end = true;
      } else if (t.parent == kContextParent || t.parent == kCallerParent) {
        st.popped |= t.parent == kContextParent;
        for (const Top& c : (*callers_)[static_cast<size_t>(s.rule)]) work_.push_back(c);
      } else {
        const StackPool::Node& p = pool_.node(t.parent);
        work_.push_back({p.state, p.parent});
      }
    }
  }
}

ParseState Parser::closure(Top top) {
  ParseState st;
  begin(st);
  visit(top, st);
  finish(st);
  return st;
}

CallerTops caller_tops(const Automaton& a) {
  CallerTops c(a.rule_start.size());
  for (const AutomatonState& s : a.states) {
    if (!s.live) continue;
    for (uint32_t i = s.calls_begin; i < s.calls_end; ++i) {
      const CallEdge& e = a.call_edges[i];
      c[static_cast<size_t>(e.rule)].push_back({e.target, kCallerParent});
    }
  }
  for (auto& v : c) {
    std::sort(v.begin(), v.end());
    v.erase(std::unique(v.begin(), v.end()), v.end());
  }
  return c;
}

bool Parser::advance(const ParseState& in, uint8_t byte, ParseState& out) {
  begin(out);
  for (const Top& t : in.tops) {
    const int32_t next = a_.step(t.state, byte);
    if (next >= 0) visit({next, t.parent}, out);
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
