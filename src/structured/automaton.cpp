// structured/automaton.cpp — a rule's expression → Thompson NFA (epsilon, byte-range and call
// edges) → DFA by subset construction (byte ranges split into disjoint segments, calls of the
// same rule merged), then the analyses of automaton_analysis.cpp.
#include "structured/automaton.h"

#include <algorithm>
#include <map>

#include "core/check.h"
#include "structured/utf8_ranges.h"

namespace rotor::structured {
namespace {

struct Nfa {
  struct ByteArc {
    uint8_t lo, hi;
    int to;
  };
  struct CallArc {
    int rule, to;
  };
  struct State {
    std::vector<int> eps;
    std::vector<ByteArc> bytes;
    std::vector<CallArc> calls;
  };
  std::vector<State> st;
  size_t limit = 0;
  const Grammar* g = nullptr;
  mutable std::vector<uint32_t> seen;
  mutable uint32_t stamp = 0;

  int add() {
    ROTOR_CHECK(st.size() < limit, "grammar too large: more than {} automaton states (a long literal, a large "
                                   "repetition count or maxLength/maxItems?)",
                limit);
    st.emplace_back();
    return static_cast<int>(st.size()) - 1;
  }
  void eps(int a, int b) { st[static_cast<size_t>(a)].eps.push_back(b); }
  void byte(int a, uint8_t lo, uint8_t hi, int b) { st[static_cast<size_t>(a)].bytes.push_back({lo, hi, b}); }

  // Adds e as paths from `from` to `to`.
  void emit(const Expr& e, int from, int to) {
    switch (e.kind) {
      case Expr::Kind::Empty:
        eps(from, to);
        return;
      case Expr::Kind::Bytes: {
        int cur = from;
        for (size_t i = 0; i < e.bytes.size(); ++i) {
          const int next = i + 1 == e.bytes.size() ? to : add();
          const auto b = static_cast<uint8_t>(e.bytes[i]);
          byte(cur, b, b, next);
          cur = next;
        }
        return;
      }
      case Expr::Kind::CharClass:
        for (const ByteRangeSeq& s : utf8_sequences(e.ranges)) {
          int cur = from;
          for (int i = 0; i < s.length; ++i) {
            const int next = i + 1 == s.length ? to : add();
            byte(cur, static_cast<uint8_t>(s.bytes[i].lo), static_cast<uint8_t>(s.bytes[i].hi), next);
            cur = next;
          }
        }
        return;
      case Expr::Kind::ByteClass:
        for (const Range& r : e.ranges) byte(from, static_cast<uint8_t>(r.lo), static_cast<uint8_t>(r.hi), to);
        return;
      case Expr::Kind::Seq: {
        int cur = from;
        for (size_t i = 0; i < e.children.size(); ++i) {
          const int next = i + 1 == e.children.size() ? to : add();
          emit(e.children[i], cur, next);
          cur = next;
        }
        return;
      }
      case Expr::Kind::Alt:
        for (const Expr& c : e.children) {
          const int a = add(), b = add();
          eps(from, a);
          emit(c, a, b);
          eps(b, to);
        }
        return;
      case Expr::Kind::Repeat: {
        const Expr& c = e.children[0];
        int cur = from;
        for (int i = 0; i < e.min; ++i) {
          const int next = add();
          emit(c, cur, next);
          cur = next;
        }
        if (e.max < 0) {
          // cur → loop → body → loop; loop → to. The loop state has fresh in/out states so
          // that paths into the body never leak out of an outer loop.
          const int loop = add(), in = add(), out = add();
          eps(cur, loop);
          eps(loop, in);
          emit(c, in, out);
          eps(out, loop);
          eps(loop, to);
          return;
        }
        for (int i = e.min; i < e.max; ++i) {
          const int next = add();
          eps(cur, to);
          emit(c, cur, next);
          cur = next;
        }
        eps(cur, to);
        return;
      }
      case Expr::Kind::RuleRef:
        ROTOR_CHECK(e.rule >= 0 && static_cast<size_t>(e.rule) < g->rules.size(), "grammar: bad rule reference {}",
                    e.rule);
        st[static_cast<size_t>(from)].calls.push_back({e.rule, to});
        return;
    }
  }

  std::vector<int> closure(std::vector<int> set) const {
    // seen[s] == stamp: already in the set (no clearing between calls).
    seen.resize(st.size(), 0);
    ++stamp;
    std::vector<int> stack;
    std::erase_if(set, [&](int s) {
      if (seen[static_cast<size_t>(s)] == stamp) return true;
      seen[static_cast<size_t>(s)] = stamp;
      stack.push_back(s);
      return false;
    });
    while (!stack.empty()) {
      const int s = stack.back();
      stack.pop_back();
      for (int t : st[static_cast<size_t>(s)].eps)
        if (seen[static_cast<size_t>(t)] != stamp) {
          seen[static_cast<size_t>(t)] = stamp;
          set.push_back(t);
          stack.push_back(t);
        }
    }
    std::sort(set.begin(), set.end());
    return set;
  }
};

// Subset construction of one rule's NFA into `a`; returns the DFA start state. `work` counts
// the NFA states visited (closures, and each DFA state's arcs per byte segment) over all
// rules: nested repetitions ((a{0,40}){0,40}){0,40} make few DFA states of huge NFA sets.
int32_t determinize(const Nfa& n, int start, int end, int rule, Automaton& a, size_t max_states, uint64_t& work,
                    uint64_t max_work) {
  auto count = [&](uint64_t w) {
    work += w;
    ROTOR_CHECK(work <= max_work,
                "grammar too large: building its automaton takes more than {} steps (nested repetitions such as "
                "(a{{0,40}}){{0,40}}?)",
                max_work);
  };
  std::map<std::vector<int>, int32_t> ids;
  std::vector<std::vector<int>> sets;
  const int32_t base = static_cast<int32_t>(a.states.size());
  auto id_of = [&](std::vector<int> set) {
    set = n.closure(std::move(set));
    count(set.size());
    auto [it, fresh] = ids.emplace(set, base + static_cast<int32_t>(sets.size()));
    if (fresh) {
      ROTOR_CHECK(static_cast<size_t>(base) + sets.size() < max_states,
                  "grammar too large: more than {} automaton states after determinisation", max_states);
      sets.push_back(std::move(set));
    }
    return it->second;
  };
  const int32_t start_id = id_of({start});
  for (size_t k = 0; k < sets.size(); ++k) {
    const std::vector<int> set = sets[k];
    AutomatonState s;
    s.rule = rule;
    s.final = std::binary_search(set.begin(), set.end(), end);
    // Disjoint byte segments from every arc's bounds.
    std::vector<int> cuts{0, 256};
    for (int q : set)
      for (const Nfa::ByteArc& b : n.st[static_cast<size_t>(q)].bytes) {
        cuts.push_back(b.lo);
        cuts.push_back(b.hi + 1);
      }
    std::sort(cuts.begin(), cuts.end());
    cuts.erase(std::unique(cuts.begin(), cuts.end()), cuts.end());
    count(cuts.size() * set.size());
    std::vector<ByteEdge> edges;
    for (size_t c = 0; c + 1 < cuts.size(); ++c) {
      const int lo = cuts[c], hi = cuts[c + 1] - 1;
      std::vector<int> to;
      for (int q : set)
        for (const Nfa::ByteArc& b : n.st[static_cast<size_t>(q)].bytes)
          if (b.lo <= lo && hi <= b.hi) to.push_back(b.to);
      if (to.empty()) continue;
      const int32_t t = id_of(std::move(to));
      if (!edges.empty() && edges.back().target == t && edges.back().hi + 1 == lo)
        edges.back().hi = static_cast<uint8_t>(hi);
      else
        edges.push_back({static_cast<uint8_t>(lo), static_cast<uint8_t>(hi), t});
    }
    std::map<int, std::vector<int>> calls;
    for (int q : set)
      for (const Nfa::CallArc& c : n.st[static_cast<size_t>(q)].calls) calls[c.rule].push_back(c.to);
    s.bytes_begin = static_cast<uint32_t>(a.byte_edges.size());
    a.byte_edges.insert(a.byte_edges.end(), edges.begin(), edges.end());
    s.bytes_end = static_cast<uint32_t>(a.byte_edges.size());
    s.calls_begin = static_cast<uint32_t>(a.call_edges.size());
    for (auto& [r, to] : calls) a.call_edges.push_back({r, id_of(std::move(to))});
    s.calls_end = static_cast<uint32_t>(a.call_edges.size());
    a.states.push_back(s);
  }
  ROTOR_CHECK(a.states.size() == base + sets.size(), "grammar: determinisation lost a state");
  return start_id;
}

}  // namespace

Automaton Automaton::build(const Grammar& g, const AutomatonLimits& limits) {
  ROTOR_CHECK(g.root >= 0 && static_cast<size_t>(g.root) < g.rules.size(), "grammar: no root rule");
  Automaton a;
  a.root = g.root;
  a.rule_start.resize(g.rules.size());
  for (const Grammar::Rule& r : g.rules) a.rule_names.push_back(r.name);
  const size_t max_states = static_cast<size_t>(limits.max_states);
  uint64_t work = 0;
  for (size_t r = 0; r < g.rules.size(); ++r) {
    Nfa n;
    n.limit = max_states * 4;
    n.g = &g;
    const int start = n.add(), end = n.add();
    n.emit(g.rules[r].body, start, end);
    a.rule_start[r] = determinize(n, start, end, static_cast<int>(r), a, max_states, work, limits.max_work);
  }
  analysis::trim(a);
  analysis::check_left_recursion(a);
  analysis::compute_follow(a);
  analysis::compute_classes(a, limits.horizon);
  return a;
}

}  // namespace rotor::structured
