// structured/compiled_grammar.h — a grammar ready to match tokens: its automaton, the token
// table, and per class of positions (automaton.h) the precomputed token masks: which tokens
// a stack whose top is there accepts whatever lies below it ("context-independent"), and
// the tokens that are accepted only if the rule ends inside them and the rest of the token
// is accepted by the caller (grouped by that rest, the "suffix", checked per step against
// the real stack). Tokens that no caller anywhere in the grammar could continue are refused
// outright (parser.h: CallerTops), so few tokens are left to check per step. The masks of the
// classes nearest the start are computed by compile() within a time budget, the others on
// first use (thread-safe). Immutable once built but for those; shared by every matcher of the
// grammar.
#pragma once
#include <cstdint>
#include <limits>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "structured/automaton.h"
#include "structured/grammar.h"
#include "structured/parser.h"
#include "structured/token_table.h"

namespace rotor::structured {

struct PositionMasks {
  // The context-independent accepted tokens, stored the cheaper way: a list of them, a list
  // of the matchable tokens that are not, or a bitmask.
  enum class Kind : uint8_t { Accept, Reject, Bits };
  Kind kind = Kind::Accept;
  std::vector<int32_t> ids;
  std::vector<uint32_t> bits;
  size_t num_accepted = 0;
  // Context-dependent tokens: suffixes[k] (sorted) is what remains of each of
  // suffix_tokens[k] after the rule ends inside it.
  std::vector<std::string> suffixes;
  std::vector<std::vector<int32_t>> suffix_tokens;

  // mask |= the context-independent accepted tokens.
  void add_accepted(std::span<uint32_t> mask, std::span<const uint32_t> matchable) const;
};

struct CompileStats {
  double automaton_ms = 0, masks_ms = 0;
  size_t states = 0, classes = 0, uncertain_tokens = 0;
  size_t classes_computed = 0;  // classes whose masks are computed so far
};

// Every class of `a`, in the order a matcher meets them (compile() computes masks in it):
// breadth first over positions from the root's start, a call leading both into the called
// rule and to where the caller goes on.
std::vector<int32_t> classes_by_distance(const Automaton& a);

class CompiledGrammar {
 public:
  // Every class's masks computed by compile().
  static constexpr double kAllMasks = std::numeric_limits<double>::infinity();
  // What the server gives a compile (GrammarCache) for masks, off the engine's thread: every
  // class's in most schemas, the first reached in big ones (docs/perf-log.md).
  static constexpr double kServedMasksMs = 100;

  // Computes the masks of the classes a matcher meets first (breadth first from the root's
  // start) until `masks_ms` is spent (0: none; kAllMasks: all), the rest on first use.
  // Raises rotor::Error for a grammar that cannot be compiled (see Automaton::build).
  static std::shared_ptr<const CompiledGrammar> compile(const Grammar& g, std::shared_ptr<const TokenTable> tokens,
                                                        double masks_ms = 0);

  const Automaton& automaton() const { return automaton_; }
  const TokenTable& tokens() const { return *tokens_; }
  const PositionMasks& masks_of_state(int32_t state) const {
    return masks_of_class(automaton_.state_class[static_cast<size_t>(state)]);
  }
  const PositionMasks& masks_of_class(int32_t cls) const;
  // Automaton figures; masks_ms and uncertain_tokens count the classes computed so far.
  CompileStats stats() const;

 private:
  Automaton automaton_;
  std::shared_ptr<const TokenTable> tokens_;
  CallerTops callers_;
  mutable std::vector<PositionMasks> masks_;            // by class, once computed
  mutable std::unique_ptr<std::once_flag[]> computed_;  // by class
  mutable std::mutex stats_mu_;
  mutable CompileStats stats_;
};

}  // namespace rotor::structured
