// tokenizer/jinja/expression_parser.h — ExprParser: expressions by recursive descent, following
// jinja2/parser.py, with Jinja2's precedence: condexpr < or < and < not < compare < + - < ~ <
// * / // % < ** < unary < postfix and filters / tests. The statements' Parser (parser.cpp)
// builds on it.
#pragma once
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "tokenizer/jinja/token_reader.h"

namespace rotor::jinja {

class ExprParser : public TokenReader {
 public:
  using TokenReader::TokenReader;

 protected:
  // An expression, or a tuple of them, ending before '}}', '%}', ')' or a name in `ends`.
  ExprPtr parse_tuple(bool with_condexpr, const std::set<std::string>& ends, bool explicit_parens = false);
  ExprPtr parse_expression(bool with_condexpr);
  // `| f(args) | g ...` (the leading '|' is optional for {% filter %}); operands left null.
  std::vector<ExprPtr> parse_filter_chain();

  // Functions called by name and the lines of the calls: Parser::run checks that each is a
  // macro of the template or a known global.
  std::vector<std::pair<std::string, int>> called_;

 private:
  // expression_parser.cpp: the precedence levels down to primaries.
  bool tuple_end(const std::set<std::string>& ends) const;
  ExprPtr binary(ExprKind k, int line, ExprPtr l, ExprPtr r, std::string op = {});
  ExprPtr parse_or();
  ExprPtr parse_and();
  ExprPtr parse_not();
  ExprPtr parse_compare();
  ExprPtr parse_math1();
  ExprPtr parse_concat();
  ExprPtr parse_math2();
  ExprPtr parse_pow();
  ExprPtr parse_unary(bool with_filter);
  ExprPtr parse_primary();

  // postfix_parser.cpp: attributes, subscripts and slices, calls, filters and tests.
  ExprPtr parse_postfix(ExprPtr e);
  ExprPtr parse_subscript(ExprPtr obj, int line);
  // An index expression, or nullptr when a slice follows (slice_parts_ holds its parts).
  ExprPtr parse_subscribed();
  ExprPtr slice_of(ExprPtr obj, int line);
  void parse_args(Expr& e);
  ExprPtr parse_call(ExprPtr callee);
  ExprPtr parse_filter_expr(ExprPtr e);
  ExprPtr parse_test(ExprPtr e);

  std::vector<ExprPtr> slice_parts_;
};

}  // namespace rotor::jinja
