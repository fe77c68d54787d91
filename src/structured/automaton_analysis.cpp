// structured/automaton_analysis.cpp — what build() learns about the rule automata: productive
// rules and live states (the rest is cut), left recursion (refused: the matcher would push
// frames forever), FIRST/FOLLOW bytes (the classes of positions: position_classes.cpp).
#include <algorithm>
#include <map>

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

// The fixed points below propagate along dependencies from a work list: sweeping every state
// until nothing changes takes a sweep per link of the longest chain (a sequence of thousands
// of nullable calls, or of rules), quadratic in the grammar.

// ends[s]: the rule can end from s without consuming a byte (through nullable calls).
std::vector<char> compute_ends(const Automaton& a) {
  const size_t N = a.states.size();
  std::vector<char> ends(N, 0);
  std::vector<std::vector<int32_t>> users(N);  // states with a call whose start or target is s
  std::vector<int32_t> todo;
  for (size_t s = 0; s < N; ++s) {
    const State& st = a.states[s];
    if (!st.live) continue;
    for_calls(a, st, [&](const CallEdge& c) {
      users[static_cast<size_t>(a.rule_start[static_cast<size_t>(c.rule)])].push_back(static_cast<int32_t>(s));
      users[static_cast<size_t>(c.target)].push_back(static_cast<int32_t>(s));
    });
    if (st.final) ends[s] = 1, todo.push_back(static_cast<int32_t>(s));
  }
  while (!todo.empty()) {
    const size_t x = static_cast<size_t>(todo.back());
    todo.pop_back();
    for (int32_t u : users[x]) {
      if (ends[static_cast<size_t>(u)]) continue;
      bool e = false;
      for_calls(a, a.states[static_cast<size_t>(u)], [&](const CallEdge& c) {
        e = e || (ends[static_cast<size_t>(a.rule_start[static_cast<size_t>(c.rule)])] &&
                  ends[static_cast<size_t>(c.target)]);
      });
      if (e) ends[static_cast<size_t>(u)] = 1, todo.push_back(u);
    }
  }
  return ends;
}

// Grows sets[i] by sets[j] for every edge j -> i of `into` (sets[i] ⊇ sets[j]) until stable.
void propagate_unions(std::vector<std::bitset<256>>& sets, const std::vector<std::vector<int32_t>>& into) {
  std::vector<int32_t> todo;
  std::vector<char> queued(sets.size(), 1);
  for (size_t i = 0; i < sets.size(); ++i) todo.push_back(static_cast<int32_t>(i));
  while (!todo.empty()) {
    const size_t j = static_cast<size_t>(todo.back());
    todo.pop_back();
    queued[j] = 0;
    for (int32_t i : into[j]) {
      const std::bitset<256> grown = sets[static_cast<size_t>(i)] | sets[j];
      if (grown == sets[static_cast<size_t>(i)]) continue;
      sets[static_cast<size_t>(i)] = grown;
      if (!queued[static_cast<size_t>(i)]) queued[static_cast<size_t>(i)] = 1, todo.push_back(i);
    }
  }
}


}  // namespace

void trim(Automaton& a) {
  const size_t R = a.rule_start.size(), N = a.states.size();
  // Productive rules (some string leads from the rule's start to its end, calling productive
  // rules only), in one search from every rule's start: a call to a rule not yet known to be
  // productive waits until the rule is found to be (a pass per rule was quadratic in a chain
  // of rules, and request grammars can hold thousands).
  std::vector<char> productive(R, 0);
  {
    std::vector<char> seen(N, 0);
    std::vector<std::vector<int32_t>> waiting(R);  // targets of calls to rule r, not yet followed
    std::vector<int32_t> todo;
    auto go = [&](int32_t t) {
      if (!seen[static_cast<size_t>(t)]) seen[static_cast<size_t>(t)] = 1, todo.push_back(t);
    };
    for (size_t r = 0; r < R; ++r) go(a.rule_start[r]);
    while (!todo.empty()) {
      const State& st = a.states[static_cast<size_t>(todo.back())];
      todo.pop_back();
      const size_t rule = static_cast<size_t>(st.rule);
      if (st.final && !productive[rule]) {
        productive[rule] = 1;
        for (int32_t t : waiting[rule]) go(t);
        waiting[rule] = {};
      }
      for_bytes(a, st, [&](const ByteEdge& e) { go(e.target); });
      for_calls(a, st, [&](const CallEdge& c) {
        if (productive[static_cast<size_t>(c.rule)]) go(c.target);
        else waiting[static_cast<size_t>(c.rule)].push_back(c.target);
      });
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
  std::vector<size_t> seen_from(a.states.size(), R);  // the rule whose search reached a state
  for (size_t r = 0; r < R; ++r) {
    if (!a.states[static_cast<size_t>(a.rule_start[r])].live) continue;
    std::vector<int32_t> todo{a.rule_start[r]};
    seen_from[static_cast<size_t>(a.rule_start[r])] = r;
    while (!todo.empty()) {
      const State& st = a.states[static_cast<size_t>(todo.back())];
      todo.pop_back();
      for_calls(a, st, [&](const CallEdge& c) {
        left[r].push_back(c.rule);
        if (nullable(c.rule) && seen_from[static_cast<size_t>(c.target)] != r) {
          seen_from[static_cast<size_t>(c.target)] = r;
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
  // first[s]: its own bytes, the first bytes of the rules it calls, and past a nullable call
  // those of the call's target.
  std::vector<std::bitset<256>> first(N);
  std::vector<std::vector<int32_t>> first_into(N);
  for (size_t s = 0; s < N; ++s) {
    const State& st = a.states[s];
    if (!st.live) continue;
    for_bytes(a, st, [&](const ByteEdge& e) {
      for (int b = e.lo; b <= e.hi; ++b) first[s].set(static_cast<size_t>(b));
    });
    for_calls(a, st, [&](const CallEdge& c) {
      const size_t start = static_cast<size_t>(a.rule_start[static_cast<size_t>(c.rule)]);
      first_into[start].push_back(static_cast<int32_t>(s));
      if (ends[start]) first_into[static_cast<size_t>(c.target)].push_back(static_cast<int32_t>(s));
    });
  }
  propagate_unions(first, first_into);
  // follow[r]: what comes after a call of r, and when that may be the caller's end, what
  // follows the caller's rule.
  a.follow.assign(R, {});
  std::vector<std::vector<int32_t>> follow_into(R);
  for (size_t s = 0; s < N; ++s) {
    const State& st = a.states[s];
    if (!st.live) continue;
    for_calls(a, st, [&](const CallEdge& c) {
      a.follow[static_cast<size_t>(c.rule)] |= first[static_cast<size_t>(c.target)];
      if (ends[static_cast<size_t>(c.target)]) follow_into[static_cast<size_t>(st.rule)].push_back(c.rule);
    });
  }
  propagate_unions(a.follow, follow_into);
}

}  // namespace rotor::structured::analysis
