// structured/grammar.h — the grammar every constraint is compiled from (EBNF text, a regex, a
// choice list or a JSON schema all become one): named rules whose bodies are expressions over
// literal bytes, code-point classes (matched as UTF-8), byte classes, sequences, alternatives,
// bounded or unbounded repetition and references to rules (which may recurse).
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace rotor::structured {

// A closed range of code points (CharClass) or of bytes (ByteClass).
struct Range {
  uint32_t lo = 0, hi = 0;
};

struct Expr {
  enum class Kind : uint8_t { Empty, Bytes, CharClass, ByteClass, Seq, Alt, Repeat, RuleRef };
  Kind kind = Kind::Empty;
  std::string bytes;            // Bytes: the literal
  std::vector<Range> ranges;    // CharClass / ByteClass: sorted, disjoint, non-adjacent
  std::vector<Expr> children;   // Seq, Alt; Repeat: one child
  int min = 0, max = -1;        // Repeat: max -1 = unbounded
  int rule = -1;                // RuleRef
};

// Builders (they flatten nested sequences / alternatives and drop empty parts).
Expr empty();
Expr lit(std::string_view bytes);
// A class of code points; negated: every Unicode scalar value not in `ranges`.
Expr chars(std::vector<Range> ranges, bool negated = false);
Expr bytes_class(std::vector<Range> ranges);
Expr seq(std::vector<Expr> parts);
Expr alt(std::vector<Expr> options);
Expr repeat(Expr e, int min, int max);
inline Expr opt(Expr e) { return repeat(std::move(e), 0, 1); }
inline Expr star(Expr e) { return repeat(std::move(e), 0, -1); }
inline Expr plus(Expr e) { return repeat(std::move(e), 1, -1); }
Expr ref(int rule);

// Sorted, merged ranges; with `negated`, their complement within the scalar values
// [0, 0x10FFFF] minus the surrogates.
std::vector<Range> normalize_ranges(std::vector<Range> ranges, bool negated = false);

struct Grammar {
  struct Rule {
    std::string name;
    Expr body;
  };
  std::vector<Rule> rules;
  int root = -1;
  // Kept by rule_id and add_rule (a search through the names made big grammars quadratic):
  std::unordered_map<std::string, int> ids;          // rule name -> index
  std::unordered_map<std::string, int> last_suffix;  // add_rule: the last k taken for a hint

  // The id of the rule called `name`, added (with an empty body) if new.
  int rule_id(std::string_view name);
  // -1 when absent.
  int find(std::string_view name) const;
  // A new rule whose name starts with `hint` and is not taken yet.
  int add_rule(std::string_view hint, Expr body);
  // GBNF-like text of every rule, root first (a cache key; debugging).
  std::string to_string() const;
};

// One of the given strings exactly (vLLM's guided_choice).
Grammar choice_grammar(const std::vector<std::string>& choices);

}  // namespace rotor::structured
