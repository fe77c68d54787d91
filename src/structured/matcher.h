// structured/matcher.h — GrammarMatcher: one sequence's position in a compiled grammar. It
// takes sampled tokens (accept_token), gives the bitmask of the tokens allowed next
// (fill_bitmask: the precomputed masks of each stack top, plus the context-dependent tokens
// checked against the real stack; a top that another top reaches through tail calls is
// skipped, its tokens being among that top's), says when the grammar is complete (the stop
// tokens are then allowed, and only they once nothing more may follow) and rolls back. The
// state after every accepted token is kept (states share their stack nodes), so rollback is
// a pop.
#pragma once
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include "core/token_constraint.h"
#include "structured/compiled_grammar.h"
#include "structured/parser.h"

namespace rotor::structured {

class GrammarMatcher final : public TokenConstraint {
 public:
  explicit GrammarMatcher(std::shared_ptr<const CompiledGrammar> grammar);
  GrammarMatcher(const GrammarMatcher&) = delete;  // the parser refers to the pool inside
  GrammarMatcher& operator=(const GrammarMatcher&) = delete;

  bool accept_token(int32_t token) override;
  void fill_bitmask(std::span<uint32_t> bitmask) override;
  bool is_terminated() const override { return history_.back().stop; }
  void rollback(int n) override;
  int num_accepted() const override { return static_cast<int>(history_.size()) - 1; }

  // Takes raw bytes as one step (tests; text that need not be one token).
  bool accept_bytes(std::string_view bytes);
  // The grammar may end here (a stop token would be accepted).
  bool can_end() const { return history_.back().state.can_end; }
  const CompiledGrammar& grammar() const { return *g_; }

 private:
  struct Entry {
    ParseState state;
    bool stop = false;
  };
  // Sets the bits of the suffix groups of `m` that the stacks `cont` accept.
  void add_suffixes(const ParseState& cont, const PositionMasks& m, std::span<uint32_t> bitmask);
  // Fills covered_ with the stacks that some top of `tops` reaches through tail calls.
  void find_covered(const std::vector<Top>& tops);

  std::shared_ptr<const CompiledGrammar> g_;
  StackPool pool_;
  Parser parser_;
  std::vector<Entry> history_;  // [0]: the start; then one per accepted token
  std::vector<ParseState> levels_;
  std::vector<std::pair<int32_t, int32_t>> done_;  // (class, parent) handled in this fill
  // find_covered's: the stacks reached past a top, the stacks expanded, the states left to
  // expand.
  TopSet covered_, expanded_;
  std::vector<int32_t> work_;
};

}  // namespace rotor::structured
