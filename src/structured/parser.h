// structured/parser.h — the pushdown automaton over an Automaton's rules, one byte at a time.
// A stack is its top frame (the current state of the innermost rule) over a chain of return
// frames in a persistent tree (StackPool): each node is (state, parent) and is hash-consed,
// so equal stacks share one chain, and old parse states stay valid for rollback. Bytes only
// move top frames (no node is made); calls push a node, ends of rules pop one. The parser is
// nondeterministic: a state holds every stack the input so far allows (its "tops": stacks
// whose top state has byte edges), found by the closure over calls (push the callee's start
// over the return state; a call whose return state can only end is a tail call and pushes
// nothing) and ends of rules (pop to the parent).
#pragma once
#include <cstdint>
#include <vector>

#include "structured/automaton.h"

namespace rotor::structured {

// Parents that are not nodes: below the root rule; (for mask precomputation) below the rule
// under study, and below a caller's continuation once that rule ended.
constexpr int32_t kRootParent = -1;
constexpr int32_t kContextParent = -2;
constexpr int32_t kCallerParent = -3;

class StackPool {
 public:
  struct Node {
    int32_t state;
    int32_t parent;
    int32_t bottom;  // the parent below the whole chain (one of the constants above)
  };
  StackPool();
  int32_t intern(int32_t state, int32_t parent);
  const Node& node(int32_t id) const { return nodes_[static_cast<size_t>(id)]; }
  int32_t bottom(int32_t parent) const { return parent < 0 ? parent : node(parent).bottom; }
  size_t size() const { return nodes_.size(); }
  // Forgets the nodes made since size() was n (speculative work); ids below n stay valid.
  void truncate(size_t n);

 private:
  static uint64_t hash(int32_t state, int32_t parent);
  void grow();
  std::vector<Node> nodes_;
  std::vector<int32_t> slots_;  // open addressing, linear probing: node id or -1
  size_t mask_ = 0;
};

// A stack: its top state and the node below it (a node id or one of the parents above).
struct Top {
  int32_t state;
  int32_t parent;
  bool operator==(const Top&) const = default;
  bool operator<(const Top& o) const { return state != o.state ? state < o.state : parent < o.parent; }
};

// Mask precomputation's view of what may follow each rule: per rule, its call sites'
// return states over kCallerParent. When the rule under study (over kContextParent) ends,
// matching goes on in every caller's continuation, and when one of those ends, in its
// callers' (the root's end ends everything), so a token is refused only if no context could
// take it.
using CallerTops = std::vector<std::vector<Top>>;
CallerTops caller_tops(const Automaton& a);

// A set of stacks emptied in O(1): open addressing, linear probing; an entry counts while its
// stamp is the current one.
class TopSet {
 public:
  void clear();
  // False if `t` was there already.
  bool insert(Top t);
  bool contains(Top t) const;
  bool empty() const { return count_ == 0; }

 private:
  struct Entry {
    Top top;
    uint32_t gen;
  };
  size_t slot(Top t) const;
  std::vector<Entry> slots_ = std::vector<Entry>(64, Entry{{0, 0}, 0});
  size_t count_ = 0;
  uint32_t gen_ = 1;
};

struct ParseState {
  std::vector<Top> tops;      // sorted
  bool can_end = false;       // the root rule may end here
  bool popped = false;        // the rule over kContextParent may end here
  bool empty() const { return tops.empty() && !can_end && !popped; }
};

class Parser {
 public:
  // callers: set for mask precomputation only.
  Parser(const Automaton& a, StackPool& pool, const CallerTops* callers = nullptr)
      : a_(a), pool_(pool), callers_(callers) {}
  // The closure of one stack.
  ParseState closure(Top top);
  // The state after one more byte; false when no stack takes it (out is then empty).
  bool advance(const ParseState& in, uint8_t byte, ParseState& out);
  // The state after several bytes (from `in`); false when some byte is refused.
  bool advance(const ParseState& in, std::string_view bytes, ParseState& out);

  const Automaton& automaton() const { return a_; }
  StackPool& pool() { return pool_; }

 private:
  void begin(ParseState& st);
  void visit(Top top, ParseState& st);
  void finish(ParseState& st) const;

  const Automaton& a_;
  StackPool& pool_;
  const CallerTops* callers_;
  TopSet seen_;  // the stacks seen in this closure
  std::vector<Top> work_;
};

}  // namespace rotor::structured
