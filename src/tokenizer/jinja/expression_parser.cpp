// tokenizer/jinja/expression_parser.cpp — ExprParser's precedence levels, from tuples and
// conditional expressions down to literals, names and bracketed displays (expression_parser.h).
#include "tokenizer/jinja/expression_parser.h"

#include <cstdlib>

namespace rotor::jinja {

bool ExprParser::tuple_end(const std::set<std::string>& ends) const {
  const Token& t = cur();
  if (t.type == TokenType::VarEnd || t.type == TokenType::BlockEnd || (t.type == TokenType::Op && t.value == ")"))
    return true;
  return t.type == TokenType::Name && ends.count(t.value);
}

ExprPtr ExprParser::parse_tuple(bool with_condexpr, const std::set<std::string>& ends, bool explicit_parens) {
  const int line = cur().line;
  std::vector<ExprPtr> items;
  bool is_tuple = false;
  for (;;) {
    if (!items.empty()) expect_op(",");
    if (tuple_end(ends)) break;
    items.push_back(parse_expression(with_condexpr));
    if (is_op(",")) is_tuple = true;
    else break;
  }
  if (!is_tuple) {
    if (!items.empty()) return std::move(items[0]);
    if (!explicit_parens) fail(line, "expected an expression, got " + describe(cur()));
  }
  auto t = node(ExprKind::Tuple, line);
  t->children = std::move(items);
  return t;
}

ExprPtr ExprParser::parse_expression(bool with_condexpr) {
  Nesting nest(*this);
  nest.deeper();
  if (!with_condexpr) return parse_or();
  ExprPtr e = parse_or();
  while (is_name("if")) {
    const int line = cur().line;
    next();
    ExprPtr test = parse_or();
    ExprPtr other;
    if (skip_name("else")) other = parse_expression(true);
    auto c = node(ExprKind::Cond, line);
    c->children.push_back(std::move(e));
    c->children.push_back(std::move(test));
    c->children.push_back(std::move(other));
    e = std::move(c);
  }
  return e;
}

ExprPtr ExprParser::binary(ExprKind k, int line, ExprPtr l, ExprPtr r, std::string op) {
  auto e = node(k, line);
  e->name = std::move(op);
  e->children.push_back(std::move(l));
  e->children.push_back(std::move(r));
  return e;
}

ExprPtr ExprParser::parse_or() {
  Nesting nest(*this);
  ExprPtr l = parse_and();
  while (is_name("or")) {
    nest.deeper();
    const int line = cur().line;
    next();
    l = binary(ExprKind::Or, line, std::move(l), parse_and());
  }
  return l;
}

ExprPtr ExprParser::parse_and() {
  Nesting nest(*this);
  ExprPtr l = parse_not();
  while (is_name("and")) {
    nest.deeper();
    const int line = cur().line;
    next();
    l = binary(ExprKind::And, line, std::move(l), parse_not());
  }
  return l;
}

ExprPtr ExprParser::parse_not() {
  Nesting nest(*this);
  nest.deeper();
  if (is_name("not")) {
    const int line = cur().line;
    next();
    auto e = node(ExprKind::Not, line);
    e->children.push_back(parse_not());
    return e;
  }
  return parse_compare();
}

ExprPtr ExprParser::parse_compare() {
  const int line = cur().line;
  ExprPtr first = parse_math1();
  auto cmp = node(ExprKind::Compare, line);
  for (;;) {
    std::string op;
    if (cur().type == TokenType::Op &&
        (cur().value == "==" || cur().value == "!=" || cur().value == "<" || cur().value == ">" ||
         cur().value == "<=" || cur().value == ">=")) {
      op = cur().value;
      next();
    } else if (is_name("in")) {
      op = "in";
      next();
    } else if (is_name("not") && peek().type == TokenType::Name && peek().value == "in") {
      op = "notin";
      next();
      next();
    } else {
      break;
    }
    cmp->ops.push_back(op);
    cmp->children.push_back(parse_math1());
  }
  if (cmp->ops.empty()) return first;
  cmp->children.insert(cmp->children.begin(), std::move(first));
  return cmp;
}

ExprPtr ExprParser::parse_math1() {
  Nesting nest(*this);
  ExprPtr l = parse_concat();
  while (is_op("+") || is_op("-")) {
    nest.deeper();
    const std::string op = cur().value;
    const int line = cur().line;
    next();
    l = binary(ExprKind::Binary, line, std::move(l), parse_concat(), op);
  }
  return l;
}

ExprPtr ExprParser::parse_concat() {
  const int line = cur().line;
  ExprPtr first = parse_math2();
  if (!is_op("~")) return first;
  auto c = node(ExprKind::Concat, line);
  c->children.push_back(std::move(first));
  while (skip_op("~")) c->children.push_back(parse_math2());
  return c;
}

ExprPtr ExprParser::parse_math2() {
  Nesting nest(*this);
  ExprPtr l = parse_pow();
  while (is_op("*") || is_op("/") || is_op("//") || is_op("%")) {
    nest.deeper();
    const std::string op = cur().value;
    const int line = cur().line;
    next();
    l = binary(ExprKind::Binary, line, std::move(l), parse_pow(), op);
  }
  return l;
}

ExprPtr ExprParser::parse_pow() {
  Nesting nest(*this);
  ExprPtr l = parse_unary(true);
  while (is_op("**")) {
    nest.deeper();
    const int line = cur().line;
    next();
    l = binary(ExprKind::Binary, line, std::move(l), parse_unary(true), "**");
  }
  return l;
}

ExprPtr ExprParser::parse_unary(bool with_filter) {
  Nesting nest(*this);
  nest.deeper();
  const int line = cur().line;
  ExprPtr e;
  if (is_op("-") || is_op("+")) {
    const bool neg = is_op("-");
    next();
    e = node(neg ? ExprKind::Neg : ExprKind::Pos, line);
    e->children.push_back(parse_unary(false));
  } else {
    e = parse_primary();
  }
  e = parse_postfix(std::move(e));
  if (with_filter) e = parse_filter_expr(std::move(e));
  return e;
}

ExprPtr ExprParser::parse_primary() {
  const Token t = cur();
  switch (t.type) {
    case TokenType::Name: {
      next();
      if (t.value == "true" || t.value == "True" || t.value == "false" || t.value == "False") {
        auto c = node(ExprKind::Const, t.line);
        c->value = Value(t.value == "true" || t.value == "True");
        return c;
      }
      if (t.value == "none" || t.value == "None") {
        auto c = node(ExprKind::Const, t.line);
        c->value = Value::none();
        return c;
      }
      auto n = node(ExprKind::Name, t.line);
      n->name = t.value;
      return n;
    }
    case TokenType::String: {
      std::string s;
      while (cur().type == TokenType::String) {
        s += cur().value;
        next();
      }
      auto c = node(ExprKind::Const, t.line);
      c->value = Value(std::move(s));
      return c;
    }
    case TokenType::Int: {
      next();
      auto c = node(ExprKind::Const, t.line);
      c->value = Value(int_literal(t));
      return c;
    }
    case TokenType::Float: {
      next();
      auto c = node(ExprKind::Const, t.line);
      c->value = Value(std::strtod(t.value.c_str(), nullptr));  // as Python: 1e400 is inf, 1e-400 is 0.0
      return c;
    }
    case TokenType::Op: {
      if (t.value == "(") {
        next();
        ExprPtr e = parse_tuple(true, {}, true);
        expect_op(")");
        return e;
      }
      if (t.value == "[") {
        next();
        auto l = node(ExprKind::List, t.line);
        while (!is_op("]")) {
          if (!l->children.empty()) expect_op(",");
          if (is_op("]")) break;
          l->children.push_back(parse_expression(true));
        }
        next();
        return l;
      }
      if (t.value == "{") {
        next();
        auto d = node(ExprKind::Dict, t.line);
        while (!is_op("}")) {
          if (!d->children.empty()) expect_op(",");
          if (is_op("}")) break;
          d->children.push_back(parse_expression(true));
          expect_op(":");
          d->children.push_back(parse_expression(true));
        }
        next();
        return d;
      }
      break;
    }
    default: break;
  }
  fail(t.line, "unexpected " + describe(t));
}

}  // namespace rotor::jinja
