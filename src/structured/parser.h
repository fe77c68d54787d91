// structured/parser.h — the pushdown automaton over an Automaton's rules, one byte at a time.
// A stack is a chain of frames in a persistent tree (StackPool): each node is (state, parent)
// and is hash-consed, so equal stacks are one node, a parse state is a small set of node ids,
// and old states stay valid for rollback. The parser is nondeterministic: a state holds every
// stack the input so far allows (its "tops": nodes whose state has byte edges), found by the
// closure over calls (push the callee's start, the return state below it; a call whose return
// state can only end is a tail call and pushes nothing) and ends of rules (pop to the parent).
#pragma once
#include <cstdint>
#include <vector>

#include "structured/automaton.h"

namespace rotor::structured {

// Parents that are not nodes: below the root rule, and (for mask precomputation) an unknown
// caller of the rule under study.
constexpr int32_t kRootParent = -1;
constexpr int32_t kContextParent = -2;

class StackPool {
 public:
  struct Node {
    int32_t state;
    int32_t parent;
  };
  StackPool();
  int32_t intern(int32_t state, int32_t parent);
  const Node& node(int32_t id) const { return nodes_[static_cast<size_t>(id)]; }
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

struct ParseState {
  std::vector<int32_t> tops;  // sorted node ids
  bool can_end = false;       // the root rule may end here
  bool popped = false;        // the rule under a kContextParent frame may end here
  bool empty() const { return tops.empty() && !can_end && !popped; }
};

class Parser {
 public:
  Parser(const Automaton& a, StackPool& pool) : a_(a), pool_(pool) {}
  // The closure of one stack (node id); for a fresh start, node = pool.intern(state, parent).
  ParseState closure(int32_t node);
  // The state after one more byte; false when no stack takes it (out is then empty).
  bool advance(const ParseState& in, uint8_t byte, ParseState& out);
  // The state after several bytes (from `in`); false when some byte is refused.
  bool advance(const ParseState& in, std::string_view bytes, ParseState& out);

  const Automaton& automaton() const { return a_; }
  StackPool& pool() { return pool_; }

 private:
  void begin(ParseState& st);
  void visit(int32_t node, ParseState& st);
  void finish(ParseState& st) const;

  const Automaton& a_;
  StackPool& pool_;
  std::vector<uint32_t> stamp_;  // by node id: == gen_ when visited in this closure
  uint32_t gen_ = 0;
  std::vector<int32_t> work_;
};

}  // namespace rotor::structured
