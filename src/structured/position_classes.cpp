// structured/position_classes.cpp — the classes of positions that behave alike on every byte
// string of up to `horizon` bytes (analysis::compute_classes): Moore's partition refinement,
// stopped after `horizon` rounds or when a round splits nothing, done incrementally (a round
// looks only at the states whose targets changed class in the round before).
#include <algorithm>
#include <span>
#include <unordered_map>

#include "structured/automaton.h"

namespace rotor::structured::analysis {
namespace {

using State = AutomatonState;

struct VecHash {
  size_t operator()(const std::vector<int64_t>& v) const {
    uint64_t h = 1469598103934665603ull;
    for (int64_t x : v) h = (h ^ static_cast<uint64_t>(x)) * 1099511628211ull;
    return h;
  }
};

// Round 0: finality, the rule (what follows its end: its callers) and the rules called.
std::vector<int32_t> first_classes(const Automaton& a) {
  std::vector<int32_t> cls(a.states.size(), -1);
  std::unordered_map<std::vector<int64_t>, int32_t, VecHash> ids;
  for (size_t s = 0; s < a.states.size(); ++s) {
    const State& st = a.states[s];
    if (!st.live) continue;
    std::vector<int64_t> sig{st.final, st.rule, st.bytes_end > st.bytes_begin};
    for (uint32_t i = st.calls_begin; i < st.calls_end; ++i) sig.push_back(a.call_edges[i].rule);
    cls[s] = ids.emplace(std::move(sig), static_cast<int32_t>(ids.size())).first->second;
  }
  return cls;
}

// The live states by class: each class's members one range of `elems_`, so that a class splits
// in place into sub-ranges.
class Partition {
 public:
  Partition(const Automaton& a, std::vector<int32_t> cls) : a_(a), cls_(std::move(cls)) {
    const size_t n = cls_.size();
    size_t classes = 0;
    for (int32_t c : cls_) classes = std::max(classes, static_cast<size_t>(c + 1));
    begin_.assign(classes + 1, 0);
    for (int32_t c : cls_)
      if (c >= 0) ++begin_[static_cast<size_t>(c) + 1];
    for (size_t c = 0; c < classes; ++c) begin_[c + 1] += begin_[c];
    elems_.resize(begin_.back());
    begin_.pop_back();
    end_ = begin_;
    marked_.assign(classes, 0);
    pos_.assign(n, 0);
    for (size_t s = 0; s < n; ++s)
      if (cls_[s] >= 0) {
        pos_[s] = end_[static_cast<size_t>(cls_[s])]++;
        elems_[pos_[s]] = static_cast<int32_t>(s);
      }
    // Predecessors: the states with a byte edge or a call returning to a state.
    pred_begin_.assign(n + 1, 0);
    auto each_edge = [&](auto&& f) {
      for (size_t s = 0; s < n; ++s) {
        const State& st = a_.states[s];
        if (!st.live) continue;
        for (uint32_t i = st.bytes_begin; i < st.bytes_end; ++i) f(a_.byte_edges[i].target, static_cast<int32_t>(s));
        for (uint32_t i = st.calls_begin; i < st.calls_end; ++i) f(a_.call_edges[i].target, static_cast<int32_t>(s));
      }
    };
    each_edge([&](int32_t t, int32_t) { ++pred_begin_[static_cast<size_t>(t) + 1]; });
    for (size_t s = 0; s < n; ++s) pred_begin_[s + 1] += pred_begin_[s];
    preds_.resize(pred_begin_[n]);
    std::vector<uint32_t> fill(pred_begin_.begin(), pred_begin_.end() - 1);
    each_edge([&](int32_t t, int32_t s) { preds_[fill[static_cast<size_t>(t)]++] = s; });
    seen_.assign(n, 0);
    sig_at_.assign(n, 0);
  }

  int32_t class_of(int32_t s) const { return cls_[static_cast<size_t>(s)]; }

  // One round: each class with members among `touched` split by their signatures (the
  // members not touched are one part). Returns the states that changed class id.
  std::vector<int32_t> refine(const std::vector<int32_t>& touched) {
    sig_.clear();  // every signature against the classes before this round's splits
    for (int32_t s : touched) {
      sig_at_[static_cast<size_t>(s)] = static_cast<uint32_t>(sig_.size());
      signature(s);
    }
    std::vector<int32_t> split;  // the classes with touched members, moved to their range's end
    for (int32_t s : touched) {
      const size_t c = static_cast<size_t>(cls_[static_cast<size_t>(s)]);
      if (marked_[c] == 0) split.push_back(static_cast<int32_t>(c));
      const uint32_t to = end_[c] - 1 - marked_[c]++, from = pos_[static_cast<size_t>(s)];
      const int32_t other = elems_[to];
      elems_[to] = s;
      elems_[from] = other;
      pos_[static_cast<size_t>(other)] = from;
      pos_[static_cast<size_t>(s)] = to;
    }
    std::vector<int32_t> changed;
    std::vector<std::pair<uint32_t, uint32_t>> parts;
    for (int32_t c32 : split) {
      const size_t c = static_cast<size_t>(c32);
      const uint32_t b = begin_[c], e = end_[c], t = e - marked_[c];
      marked_[c] = 0;
      std::sort(elems_.begin() + t, elems_.begin() + e,
                [&](int32_t x, int32_t y) { return std::ranges::lexicographical_compare(sig(x), sig(y)); });
      for (uint32_t i = t; i < e; ++i) pos_[static_cast<size_t>(elems_[i])] = i;
      parts.clear();
      if (b < t) parts.push_back({b, t});
      for (uint32_t i = t; i < e;) {
        uint32_t j = i + 1;
        while (j < e && std::ranges::equal(sig(elems_[i]), sig(elems_[j]))) ++j;
        parts.push_back({i, j});
        i = j;
      }
      if (parts.size() == 1) continue;
      size_t keep = 0;  // the largest part keeps the id (the first of equal ones)
      for (size_t k = 1; k < parts.size(); ++k)
        if (parts[k].second - parts[k].first > parts[keep].second - parts[keep].first) keep = k;
      for (size_t k = 0; k < parts.size(); ++k) {
        const auto [lo, hi] = parts[k];
        if (k == keep) {
          begin_[c] = lo, end_[c] = hi;
          continue;
        }
        const int32_t id = static_cast<int32_t>(begin_.size());
        begin_.push_back(lo), end_.push_back(hi), marked_.push_back(0);
        for (uint32_t i = lo; i < hi; ++i) {
          cls_[static_cast<size_t>(elems_[i])] = id;
          changed.push_back(elems_[i]);
        }
      }
    }
    return changed;
  }

  // The states with an edge into one of `states`, each once.
  std::vector<int32_t> predecessors(const std::vector<int32_t>& states) {
    ++stamp_;
    std::vector<int32_t> out;
    for (int32_t s : states)
      for (uint32_t i = pred_begin_[static_cast<size_t>(s)]; i < pred_begin_[static_cast<size_t>(s) + 1]; ++i) {
        const int32_t p = preds_[i];
        if (seen_[static_cast<size_t>(p)] != stamp_) seen_[static_cast<size_t>(p)] = stamp_, out.push_back(p);
      }
    return out;
  }

 private:
  // A state's signature, after its length: each byte edge's range and target's class, -1, each
  // call's rule and target's class (its own class is the same for the members compared).
  void signature(int32_t s) {
    const State& st = a_.states[static_cast<size_t>(s)];
    const size_t at = sig_.size();
    sig_.push_back(0);
    for (uint32_t i = st.bytes_begin; i < st.bytes_end; ++i) {
      const ByteEdge& e = a_.byte_edges[i];
      sig_.insert(sig_.end(), {e.lo, e.hi, cls_[static_cast<size_t>(e.target)]});
    }
    sig_.push_back(-1);
    for (uint32_t i = st.calls_begin; i < st.calls_end; ++i)
      sig_.insert(sig_.end(), {a_.call_edges[i].rule, cls_[static_cast<size_t>(a_.call_edges[i].target)]});
    sig_[at] = static_cast<int32_t>(sig_.size() - at - 1);
  }
  std::span<const int32_t> sig(int32_t s) const {
    const int32_t* p = sig_.data() + sig_at_[static_cast<size_t>(s)];
    return {p + 1, static_cast<size_t>(p[0])};
  }

  const Automaton& a_;
  std::vector<int32_t> cls_;                   // by state: class id (-1: dead)
  std::vector<int32_t> elems_;                 // live states, class by class
  std::vector<uint32_t> pos_;                  // by state: index in elems_
  std::vector<uint32_t> begin_, end_;          // by class id: its range of elems_
  std::vector<uint32_t> marked_;               // by class id: touched members at its range's end
  std::vector<uint32_t> pred_begin_;           // by state: its range of preds_
  std::vector<int32_t> preds_;
  std::vector<uint32_t> seen_;                 // by state: stamp_ once listed
  uint32_t stamp_ = 0;
  std::vector<int32_t> sig_;                   // this round's signatures
  std::vector<uint32_t> sig_at_;               // by state: its signature's offset in sig_
};

}  // namespace

void compute_classes(Automaton& a, int horizon) {
  const size_t N = a.states.size();
  std::vector<int32_t> cls = first_classes(a);
  // Each round splits a class by its members' signatures: the byte edges' ranges and targets'
  // classes, the calls' rules and targets' classes. Only a state with a target that changed
  // class in the round before can differ from its class's other members (they had equal
  // signatures, so equal targets' classes then), so a round computes the signatures of those
  // states only, and of the parts of a split class the largest keeps the class's id: a
  // state changes id only into a part at most half its class, so at most log2(states) times,
  // and a round's work is the edges around the states that changed id in the round before.
  // (Every state every round cost horizon × edges: ~1 s for a 100 KB string literal.)
  Partition p(a, std::move(cls));
  std::vector<int32_t> touched;
  for (size_t s = 0; s < N; ++s)
    if (a.states[s].live) touched.push_back(static_cast<int32_t>(s));  // round 1: every state
  for (int round = 0; round < horizon && !touched.empty(); ++round) {
    const std::vector<int32_t> changed = p.refine(touched);
    touched = p.predecessors(changed);
  }
  // Classes numbered densely over the states that have byte edges (the matcher's stack tops).
  a.state_class.assign(N, -1);
  a.class_state.clear();
  std::unordered_map<int32_t, int32_t> dense;
  for (size_t s = 0; s < N; ++s) {
    const State& st = a.states[s];
    if (!st.live || st.bytes_end == st.bytes_begin) continue;
    auto [it, fresh] = dense.emplace(p.class_of(static_cast<int32_t>(s)), static_cast<int32_t>(a.class_state.size()));
    if (fresh) a.class_state.push_back(static_cast<int32_t>(s));
    a.state_class[s] = it->second;
  }
}

}  // namespace rotor::structured::analysis
