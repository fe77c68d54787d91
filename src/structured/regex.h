// structured/regex.h — a regular expression (the JavaScript / Python subset that JSON schema
// `pattern`s and vLLM's guided_regex use) as a grammar expression, matched whole: literals,
// escapes (\d \w \s and their negations, \n \t \xHH \uHHHH, escaped punctuation), classes,
// `.` (any character but a line break), groups (capturing, (?:...), named), `|`, and the
// quantifiers * + ? {m} {m,} {m,n} (lazy forms match the same strings); ^ and $ at the ends.
// Back-references, lookaround, word boundaries and Unicode properties raise an error naming
// them.
#pragma once
#include <functional>
#include <string_view>

#include "structured/grammar.h"

namespace rotor::structured {

struct RegexOptions {
  // Turns each character class (code points) into an expression; default: chars(ranges).
  // JSON string patterns use it to write characters as JSON escapes.
  std::function<Expr(const std::vector<Range>&)> char_class;
  // Unanchored: the pattern may match anywhere (JSON schema `pattern`): a leading ^ or a
  // trailing $ anchors that end, otherwise any characters may come before / after it.
  bool search = false;
};

Expr parse_regex(std::string_view pattern, const RegexOptions& options = {});

// A grammar whose root is the whole regex.
Grammar regex_grammar(std::string_view pattern);

}  // namespace rotor::structured
