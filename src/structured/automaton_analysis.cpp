// structured/automaton_analysis.cpp — what build() learns about the rule automata: productive
// rules and live states (the rest is cut), left recursion (refused: the matcher would push
// frames forever), FIRST/FOLLOW bytes, and classes of positions with equal behaviour up to a
// horizon (Moore's partition refinement, stopped after `horizon` rounds).
#include <algorithm>
#include <map>
#include <unordered_map>

#include "core/check.h"
#include "structured/automaton.h"

namespace rotor::structured::analysis {
namespace {

using State = AutomatonState;

template <typename F>
void for_calls(const Automaton& a, const State& s, F&& f) {
  for (uint32_t i = s.calls_begin; i < s.calls_end; ++i) f(a.call_edges[i]);
}
template <typename F>
void for_bytes(const Automaton& a, const State& s, F&& f) {
  for (uint32_t i = s.bytes_begin; i < s.bytes_end; ++i) f(a.byte_edges[i]);
}

// ends[s]: the rule can end from s without consuming a byte (through nullable calls).
std::vector<char> compute_ends(const Automaton& a) {
  std::vector<char> ends(a.states.size(), 0);
  for (bool changed = true; changed;) {
    changed = false;
    for (size_t s = 0; s < a.states.size(); ++s) {
      const State& st = a.states[s];
      if (ends[s] || !st.live) continue;
      bool e = st.final;
      for_calls(a, st, [&](const CallEdge& c) {
        e = e || (ends[static_cast<size_t>(a.rule_start[static_cast<size_t>(c.rule)])] &&
                  ends[static_cast<size_t>(c.target)]);
      });
      if (e) ends[s] = changed = true;
    }
  }
  return ends;
}

struct VecHash {
  size_t operator()(const std::vector<int64_t>& v) const {
    uint64_t h = 1469598103934665603ull;
    for (int64_t x : v) h = (h ^ static_cast<uint64_t>(x)) * 1099511628211ull;
    return h;
  }
};

}  // namespace

void trim(Automaton& a) {
  const size_t R = a.rule_start.size(), N = a.states.size();
  std::vector<char> productive(R, 0);
  for (bool changed = true; changed;) {
    changed = false;
    for (size_t r = 0; r < R; ++r) {
      if (productive[r]) continue;
      std::vector<char> seen(N, 0);
      std::vector<int32_t> todo{a.rule_start[r]};
      seen[static_cast<size_t>(todo[0])] = 1;
      bool ok = false;
      while (!todo.empty() && !ok) {
        const State& st = a.states[static_cast<size_t>(todo.back())];
        todo.pop_back();
        ok = st.final;
        auto go = [&](int32_t t) {
          if (!seen[static_cast<size_t>(t)]) seen[static_cast<size_t>(t)] = 1, todo.push_back(t);
        };
        for_bytes(a, st, [&](const ByteEdge& e) { go(e.target); });
        for_calls(a, st, [&](const CallEdge& c) {
          if (productive[static_cast<size_t>(c.rule)]) go(c.target);
        });
      }
      if (ok) productive[r] = changed = true;
    }
  }
  ROTOR_CHECK(productive[static_cast<size_t>(a.root)], "grammar: rule '{}' matches no string",
              a.rule_names[static_cast<size_t>(a.root)]);
  // Co-reachable states (can reach their rule's end), by a backward search.
  std::vector<std::vector<int32_t>> back(N);
  for (size_t s = 0; s < N; ++s) {
    for_bytes(a, a.states[s], [&](const ByteEdge& e) { back[static_cast<size_t>(e.target)].push_back(static_cast<int32_t>(s)); });
    for_calls(a, a.states[s], [&](const CallEdge& c) {
      if (productive[static_cast<size_t>(c.rule)]) back[static_cast<size_t>(c.target)].push_back(static_cast<int32_t>(s));
    });
  }
  std::vector<char> co(N, 0);
  std::vector<int32_t> todo;
  for (size_t s = 0; s < N; ++s)
    if (a.states[s].final) co[s] = 1, todo.push_back(static_cast<int32_t>(s));
  while (!todo.empty()) {
    const int32_t s = todo.back();
    todo.pop_back();
    for (int32_t p : back[static_cast<size_t>(s)])
      if (!co[static_cast<size_t>(p)]) co[static_cast<size_t>(p)] = 1, todo.push_back(p);
  }
  // Reachable from the root through live edges.
  std::vector<char> reach(N, 0);
  todo = {a.rule_start[static_cast<size_t>(a.root)]};
  reach[static_cast<size_t>(todo[0])] = 1;
  while (!todo.empty()) {
    const State& st = a.states[static_cast<size_t>(todo.back())];
    todo.pop_back();
    auto go = [&](int32_t t) {
      if (co[static_cast<size_t>(t)] && !reach[static_cast<size_t>(t)]) reach[static_cast<size_t>(t)] = 1, todo.push_back(t);
    };
    for_bytes(a, st, [&](const ByteEdge& e) { go(e.target); });
    for_calls(a, st, [&](const CallEdge& c) {
      if (!productive[static_cast<size_t>(c.rule)] || !co[static_cast<size_t>(c.target)]) return;
      go(c.target);
      go(a.rule_start[static_cast<size_t>(c.rule)]);
    });
  }
  // Keep only the edges between live states.
  std::vector<ByteEdge> bytes;
  std::vector<CallEdge> calls;
  for (size_t s = 0; s < N; ++s) {
    State& st = a.states[s];
    st.live = co[s] && reach[s];
    const uint32_t b0 = static_cast<uint32_t>(bytes.size()), c0 = static_cast<uint32_t>(calls.size());
    if (st.live) {
      for_bytes(a, st, [&](const ByteEdge& e) {
        if (co[static_cast<size_t>(e.target)]) bytes.push_back(e);
      });
      for_calls(a, st, [&](const CallEdge& c) {
        if (productive[static_cast<size_t>(c.rule)] && co[static_cast<size_t>(c.target)]) calls.push_back(c);
      });
    }
    st.bytes_begin = b0;
    st.bytes_end = static_cast<uint32_t>(bytes.size());
    st.calls_begin = c0;
    st.calls_end = static_cast<uint32_t>(calls.size());
  }
  a.byte_edges = std::move(bytes);
  a.call_edges = std::move(calls);
}

void check_left_recursion(const Automaton& a) {
  const size_t R = a.rule_start.size();
  const std::vector<char> ends = compute_ends(a);
  auto nullable = [&](int32_t rule) { return ends[static_cast<size_t>(a.rule_start[static_cast<size_t>(rule)])] != 0; };
  // left[r]: rules r calls before consuming a byte.
  std::vector<std::vector<int32_t>> left(R);
  for (size_t r = 0; r < R; ++r) {
    if (!a.states[static_cast<size_t>(a.rule_start[r])].live) continue;
    std::vector<int32_t> todo{a.rule_start[r]}, seen{a.rule_start[r]};
    while (!todo.empty()) {
      const State& st = a.states[static_cast<size_t>(todo.back())];
      todo.pop_back();
      for_calls(a, st, [&](const CallEdge& c) {
        left[r].push_back(c.rule);
        if (nullable(c.rule) && std::find(seen.begin(), seen.end(), c.target) == seen.end()) {
          seen.push_back(c.target);
          todo.push_back(c.target);
        }
      });
    }
  }
  // Depth-first search for a cycle: 1 = on the path, 2 = done.
  std::vector<char> mark(R, 0);
  std::vector<std::pair<int32_t, size_t>> path;
  for (size_t r0 = 0; r0 < R; ++r0) {
    if (mark[r0]) continue;
    path.push_back({static_cast<int32_t>(r0), 0});
    mark[r0] = 1;
    while (!path.empty()) {
      auto& [r, i] = path.back();
      if (i == left[static_cast<size_t>(r)].size()) {
        mark[static_cast<size_t>(r)] = 2;
        path.pop_back();
        continue;
      }
      const int32_t c = left[static_cast<size_t>(r)][i++];
      ROTOR_CHECK(mark[static_cast<size_t>(c)] != 1,
                  "grammar: rule '{}' is left-recursive (it can reach itself without consuming input)",
                  a.rule_names[static_cast<size_t>(c)]);
      if (!mark[static_cast<size_t>(c)]) {
        mark[static_cast<size_t>(c)] = 1;
        path.push_back({c, 0});
      }
    }
  }
}

void compute_follow(Automaton& a) {
  const size_t N = a.states.size(), R = a.rule_start.size();
  const std::vector<char> ends = compute_ends(a);
  std::vector<std::bitset<256>> first(N);
  for (bool changed = true; changed;) {
    changed = false;
    for (size_t s = 0; s < N; ++s) {
      const State& st = a.states[s];
      if (!st.live) continue;
      std::bitset<256> f = first[s];
      for_bytes(a, st, [&](const ByteEdge& e) {
        for (int b = e.lo; b <= e.hi; ++b) f.set(static_cast<size_t>(b));
      });
      for_calls(a, st, [&](const CallEdge& c) {
        const size_t start = static_cast<size_t>(a.rule_start[static_cast<size_t>(c.rule)]);
        f |= first[start];
        if (ends[start]) f |= first[static_cast<size_t>(c.target)];
      });
      if (f != first[s]) first[s] = f, changed = true;
    }
  }
  a.follow.assign(R, {});
  for (bool changed = true; changed;) {
    changed = false;
    for (size_t s = 0; s < N; ++s) {
      const State& st = a.states[s];
      if (!st.live) continue;
      for_calls(a, st, [&](const CallEdge& c) {
        std::bitset<256> f = a.follow[static_cast<size_t>(c.rule)] | first[static_cast<size_t>(c.target)];
        if (ends[static_cast<size_t>(c.target)]) f |= a.follow[static_cast<size_t>(st.rule)];
        if (f != a.follow[static_cast<size_t>(c.rule)]) a.follow[static_cast<size_t>(c.rule)] = f, changed = true;
      });
    }
  }
}

void compute_classes(Automaton& a, int horizon) {
  const size_t N = a.states.size();
  // Round 0: finality, the rule (what follows its end: its callers) and the rules called.
  std::vector<int64_t> cls(N, -1), next(N, -1);
  std::unordered_map<std::vector<int64_t>, int64_t, VecHash> ids;
  auto intern = [&](std::vector<int64_t>&& sig) {
    return ids.emplace(std::move(sig), static_cast<int64_t>(ids.size())).first->second;
  };
  for (size_t s = 0; s < N; ++s) {
    const State& st = a.states[s];
    if (!st.live) continue;
    std::vector<int64_t> sig{st.final, st.rule, st.bytes_end > st.bytes_begin};
    for_calls(a, st, [&](const CallEdge& c) { sig.push_back(c.rule); });
    cls[s] = intern(std::move(sig));
  }
  size_t count = ids.size();
  for (int round = 0; round < horizon; ++round) {
    ids.clear();
    for (size_t s = 0; s < N; ++s) {
      const State& st = a.states[s];
      if (!st.live) continue;
      std::vector<int64_t> sig{cls[s]};
      for_bytes(a, st, [&](const ByteEdge& e) {
        sig.push_back(e.lo);
        sig.push_back(e.hi);
        sig.push_back(cls[static_cast<size_t>(e.target)]);
      });
      sig.push_back(-1);
      for_calls(a, st, [&](const CallEdge& c) {
        sig.push_back(c.rule);
        sig.push_back(cls[static_cast<size_t>(c.target)]);
      });
      next[s] = intern(std::move(sig));
    }
    cls.swap(next);
    if (ids.size() == count) break;  // stable: no further round splits a class
    count = ids.size();
  }
  // Classes numbered densely over the states that have byte edges (the matcher's stack tops).
  a.state_class.assign(N, -1);
  a.class_state.clear();
  std::unordered_map<int64_t, int32_t> dense;
  for (size_t s = 0; s < N; ++s) {
    const State& st = a.states[s];
    if (!st.live || st.bytes_end == st.bytes_begin) continue;
    auto [it, fresh] = dense.emplace(cls[s], static_cast<int32_t>(a.class_state.size()));
    if (fresh) a.class_state.push_back(static_cast<int32_t>(s));
    a.state_class[s] = it->second;
  }
}

}  // namespace rotor::structured::analysis
