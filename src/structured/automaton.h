// structured/automaton.h — a grammar compiled for byte-at-a-time matching: each rule becomes a
// deterministic automaton over bytes whose edges are byte ranges or calls of other rules (a
// recursive transition network; a pushdown automaton once a stack of return states is added,
// see parser.h). Repetition and alternation stay inside a rule's automaton; only references
// need the stack. All rules' states share one numbering (a "position").
//
// Built with the analyses the matcher needs: states that cannot reach an end are cut,
// left recursion is refused, each rule's FOLLOW bytes (what may come after it ends), and
// classes of positions of a rule that behave alike on every byte string of up to `horizon`
// bytes (so masks are precomputed once per class: the far copies of a long bounded
// repetition share one).
#pragma once
#include <bitset>
#include <cstdint>
#include <string>
#include <vector>

#include "structured/grammar.h"

namespace rotor::structured {

struct ByteEdge {
  uint8_t lo = 0, hi = 0;
  int32_t target = -1;
};

struct CallEdge {
  int32_t rule = -1;    // the rule called
  int32_t target = -1;  // where this rule continues once the call ends
};

struct AutomatonState {
  uint32_t bytes_begin = 0, bytes_end = 0;  // byte_edges[begin, end): sorted by lo, disjoint
  uint32_t calls_begin = 0, calls_end = 0;  // call_edges[begin, end)
  int32_t rule = -1;
  bool final = false;                        // the rule may end here
  bool live = false;                         // reachable from the root and able to reach an end
};

struct AutomatonLimits {
  int max_states = 200000;  // states over all rules, after determinisation
  // NFA states visited by determinisation (automaton.cpp), ~2 s on one core: a realistic
  // tool schema takes ~0.3 M, 1,150 optional properties (near max_states) 13 M.
  uint64_t max_work = 100'000'000;
  int horizon = 129;        // bytes of the longest token + 1 (position classes)
};

class Automaton {
 public:
  // Raises rotor::Error naming the problem (unknown or empty rule, left recursion, size).
  static Automaton build(const Grammar& g, const AutomatonLimits& limits = {});

  int32_t step(int32_t state, uint8_t byte) const {
    const AutomatonState& s = states[static_cast<size_t>(state)];
    for (uint32_t i = s.bytes_begin; i < s.bytes_end; ++i) {
      const ByteEdge& e = byte_edges[i];
      if (byte < e.lo) return -1;
      if (byte <= e.hi) return e.target;
    }
    return -1;
  }
  bool has_bytes(int32_t state) const {
    const AutomatonState& s = states[static_cast<size_t>(state)];
    return s.bytes_end > s.bytes_begin;
  }
  // A state where the rule can only end: a call returning here is a tail call.
  bool is_tail(int32_t state) const {
    const AutomatonState& s = states[static_cast<size_t>(state)];
    return s.final && s.bytes_end == s.bytes_begin && s.calls_end == s.calls_begin;
  }

  std::vector<AutomatonState> states;
  std::vector<ByteEdge> byte_edges;
  std::vector<CallEdge> call_edges;
  std::vector<int32_t> rule_start;        // by rule id
  std::vector<std::string> rule_names;
  std::vector<std::bitset<256>> follow;   // by rule id: bytes that may follow the rule's end
  std::vector<int32_t> state_class;       // by state: class of equal behaviour (-1: no bytes or dead)
  std::vector<int32_t> class_state;       // by class: one state of it
  int32_t root = -1;
};

// The analyses of automaton_analysis.cpp, run by build() in this order.
namespace analysis {
// Cuts unproductive rules and dead states, marks live ones; raises if the root matches nothing.
void trim(Automaton& a);
// Raises naming a rule that can call itself without consuming a byte.
void check_left_recursion(const Automaton& a);
void compute_follow(Automaton& a);
void compute_classes(Automaton& a, int horizon);
}  // namespace analysis

}  // namespace rotor::structured
