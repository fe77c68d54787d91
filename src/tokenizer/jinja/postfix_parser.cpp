// tokenizer/jinja/postfix_parser.cpp — ExprParser's postfix forms: .attr and .0, [index] and
// [start:stop:step], call arguments, calls, | filter chains and `is` tests, with the load-time
// checks of what they name: methods the sandbox allows, filters and tests rotor has
// (builtins.h), and the functions called by name, recorded for Parser::run.
#include "tokenizer/jinja/builtins.h"
#include "tokenizer/jinja/expression_parser.h"

namespace rotor::jinja {

ExprPtr ExprParser::parse_postfix(ExprPtr e) {
  Nesting nest(*this);
  for (;;) {
    nest.deeper();
    const int line = cur().line;
    if (skip_op(".")) {
      if (cur().type == TokenType::Name) {
        auto a = node(ExprKind::Attr, line);
        a->name = cur().value;
        next();
        a->children.push_back(std::move(e));
        e = std::move(a);
      } else if (cur().type == TokenType::Int) {
        auto i = node(ExprKind::Item, line);
        auto c = node(ExprKind::Const, line);
        c->value = Value(int_literal(cur()));
        next();
        i->children.push_back(std::move(e));
        i->children.push_back(std::move(c));
        e = std::move(i);
      } else {
        fail(line, "expected an attribute name after '.', got " + describe(cur()));
      }
    } else if (skip_op("[")) {
      e = parse_subscript(std::move(e), line);
    } else if (is_op("(")) {
      e = parse_call(std::move(e));
    } else {
      return e;
    }
  }
}

ExprPtr ExprParser::parse_subscript(ExprPtr obj, int line) {
  // One index or slice; several comma-separated ones form a tuple index.
  std::vector<ExprPtr> parts;
  while (!is_op("]")) {
    if (!parts.empty()) expect_op(",");
    parts.push_back(parse_subscribed());
    if (parts.back() == nullptr) return slice_of(std::move(obj), line);
  }
  next();
  if (parts.empty()) fail(line, "empty subscript []");
  auto i = node(ExprKind::Item, line);
  i->children.push_back(std::move(obj));
  if (parts.size() == 1) {
    i->children.push_back(std::move(parts[0]));
  } else {
    auto t = node(ExprKind::Tuple, line);
    t->children = std::move(parts);
    i->children.push_back(std::move(t));
  }
  return i;
}

// An index expression, or nullptr when a slice follows (slice_parts_ holds its parts).
ExprPtr ExprParser::parse_subscribed() {
  slice_parts_.clear();
  ExprPtr start;
  if (!is_op(":")) {
    start = parse_expression(true);
    if (!is_op(":")) return start;
  }
  next();  // ':'
  slice_parts_.push_back(std::move(start));
  if (!is_op(":") && !is_op("]") && !is_op(",")) slice_parts_.push_back(parse_expression(true));
  else slice_parts_.push_back(nullptr);
  if (skip_op(":")) {
    if (!is_op("]") && !is_op(",")) slice_parts_.push_back(parse_expression(true));
    else slice_parts_.push_back(nullptr);
  } else {
    slice_parts_.push_back(nullptr);
  }
  return nullptr;
}

ExprPtr ExprParser::slice_of(ExprPtr obj, int line) {
  expect_op("]");
  auto s = node(ExprKind::Slice, line);
  s->children.push_back(std::move(obj));
  for (auto& p : slice_parts_) s->children.push_back(std::move(p));
  slice_parts_.clear();
  return s;
}

void ExprParser::parse_args(Expr& e) {
  expect_op("(");
  size_t n = 0;
  while (!is_op(")")) {
    if (n++ > 0) {
      expect_op(",");
      if (is_op(")")) break;
    }
    if (is_op("*") || is_op("**")) fail(cur().line, "unsupported: *args / **kwargs in calls");
    if (cur().type == TokenType::Name && peek().type == TokenType::Op && peek().value == "=") {
      std::string k = cur().value;
      next();
      next();
      e.kwargs.emplace_back(std::move(k), parse_expression(true));
    } else {
      if (!e.kwargs.empty()) fail(cur().line, "positional argument after keyword argument");
      e.children.push_back(parse_expression(true));
    }
  }
  next();
}

ExprPtr ExprParser::parse_call(ExprPtr callee) {
  const int line = cur().line;
  if (callee->kind == ExprKind::Name) {
    called_.emplace_back(callee->name, line);
  } else if (callee->kind == ExprKind::Attr) {
    if (is_unsafe_method(callee->name))
      fail(line, "unsupported method '." + callee->name + "()' (values are immutable in Hugging Face's sandbox)");
    if (!is_method(callee->name)) fail(line, "unsupported method '." + callee->name + "()'");
  } else {
    fail(line, "unsupported call of an expression");
  }
  auto c = node(ExprKind::Call, line);
  c->children.push_back(std::move(callee));
  parse_args(*c);
  return c;
}

ExprPtr ExprParser::parse_filter_expr(ExprPtr e) {
  Nesting nest(*this);
  for (;;) {
    nest.deeper();
    if (is_op("|")) {
      for (ExprPtr& f : parse_filter_chain()) {
        nest.deeper();
        f->children[0] = std::move(e);
        e = std::move(f);
      }
    } else if (is_name("is")) {
      e = parse_test(std::move(e));
    } else if (is_op("(")) {
      e = parse_call(std::move(e));
    } else {
      return e;
    }
  }
}

// `| f(args) | g ...` (the leading '|' is optional for {% filter %}); operands left null.
std::vector<ExprPtr> ExprParser::parse_filter_chain() {
  std::vector<ExprPtr> out;
  bool first = true;
  while (first || is_op("|")) {
    if (is_op("|")) next();
    first = false;
    const int line = cur().line;
    std::string name = expect_name();
    while (is_op(".") && peek().type == TokenType::Name) {
      next();
      name += "." + cur().value;
      next();
    }
    if (!find_filter(name)) fail(line, "unsupported filter '" + name + "'");
    auto f = node(ExprKind::Filter, line);
    f->name = name;
    f->children.push_back(nullptr);
    if (is_op("(")) parse_args(*f);
    out.push_back(std::move(f));
  }
  return out;
}

ExprPtr ExprParser::parse_test(ExprPtr e) {
  const int line = cur().line;
  next();  // is
  const bool negated = skip_name("not");
  std::string name = expect_name();
  if (!find_test(name)) fail(line, "unsupported test 'is " + name + "'");
  auto t = node(ExprKind::Test, line);
  t->name = name;
  t->children.push_back(std::move(e));
  if (is_op("(")) {
    parse_args(*t);
  } else if ((cur().type == TokenType::Name || cur().type == TokenType::String || cur().type == TokenType::Int ||
              cur().type == TokenType::Float || is_op("(") || is_op("[") || is_op("{")) &&
             !is_name("else") && !is_name("or") && !is_name("and")) {
    if (is_name("is")) fail(line, "cannot chain tests with 'is'");
    t->children.push_back(parse_postfix(parse_primary()));
  }
  if (!negated) return t;
  auto n = node(ExprKind::Not, line);
  n->children.push_back(std::move(t));
  return n;
}

}  // namespace rotor::jinja
