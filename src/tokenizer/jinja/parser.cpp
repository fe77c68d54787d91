// tokenizer/jinja/parser.cpp — recursive descent over the token stream, with Jinja2's
// precedence: condexpr < or < and < not < compare < + - < ~ < * / // % < ** < unary < postfix
// and filters / tests.
#include "tokenizer/jinja/parser.h"

#include <set>

#include "core/check.h"
#include "tokenizer/jinja/builtins.h"
#include "tokenizer/jinja/lexer.h"
#include "tokenizer/one_line.h"

namespace rotor::jinja {
namespace {

class Parser {
 public:
  explicit Parser(std::vector<Token> tokens) : toks_(std::move(tokens)) {}

  Body run() {
    Body body = subparse({});
    if (cur().type != TokenType::Eof) fail(cur().line, "unexpected '{% " + cur().value + " %}'");
    for (const auto& [name, line] : called_)
      if (!macros_.count(name) && !is_global_function(name))
        fail(line, "unsupported function '" + name + "()' (not a macro of this template or a known global)");
    return body;
  }

 private:
  [[noreturn]] static void fail(int line, const std::string& msg) { ROTOR_FAIL("chat template line {}: {}", line, msg); }

  const Token& cur() const { return toks_[pos_]; }
  const Token& peek(size_t k = 1) const { return toks_[std::min(pos_ + k, toks_.size() - 1)]; }
  void next() {
    if (pos_ + 1 < toks_.size()) ++pos_;
  }
  bool is_op(const char* op) const { return cur().type == TokenType::Op && cur().value == op; }
  bool is_name(const char* n) const { return cur().type == TokenType::Name && cur().value == n; }
  bool skip_op(const char* op) {
    if (!is_op(op)) return false;
    next();
    return true;
  }
  bool skip_name(const char* n) {
    if (!is_name(n)) return false;
    next();
    return true;
  }
  std::string describe(const Token& t) const {
    switch (t.type) {
      case TokenType::Eof: return "end of template";
      case TokenType::BlockEnd: return "'%}'";
      case TokenType::VarEnd: return "'}}'";
      case TokenType::Data: return "text";
      default: return "'" + t.value + "'";
    }
  }
  void expect_op(const char* op) {
    if (!skip_op(op)) fail(cur().line, std::string("expected '") + op + "', got " + describe(cur()));
  }
  std::string expect_name() {
    if (cur().type != TokenType::Name) fail(cur().line, "expected a name, got " + describe(cur()));
    std::string n = cur().value;
    next();
    return n;
  }
  void expect_block_end() {
    if (cur().type != TokenType::BlockEnd) fail(cur().line, "expected '%}', got " + describe(cur()));
    next();
  }

  // Counts how deep the tree being parsed is (a nested block or expression, a link of a chain
  // of operators, attributes or filters); restores the count when the construct is done.
  class Nesting {
   public:
    explicit Nesting(Parser& p) : p_(p), saved_(p.nesting_) {}
    ~Nesting() { p_.nesting_ = saved_; }
    Nesting(const Nesting&) = delete;
    Nesting& operator=(const Nesting&) = delete;
    void deeper() {
      if (++p_.nesting_ > kMaxParseDepth)
        fail(p_.cur().line, "nested more than " + std::to_string(kMaxParseDepth) + " levels deep");
    }

   private:
    Parser& p_;
    int saved_;
  };

  static int64_t int_literal(const Token& t) {
    try {
      return static_cast<int64_t>(std::stoll(t.value));
    } catch (const std::exception&) {
      fail(t.line, "integer literal out of range: " + t.value);
    }
  }

  ExprPtr node(ExprKind k, int line) {
    auto e = std::make_unique<Expr>();
    e->kind = k;
    e->line = line;
    return e;
  }

  // Statements until a {% name %} with name in `ends` (left unconsumed: cur() is that name).
  Body subparse(const std::set<std::string>& ends) {
    Nesting nest(*this);
    nest.deeper();
    Body body;
    for (;;) {
      const Token& t = cur();
      if (t.type == TokenType::Eof) {
        if (!ends.empty()) fail(t.line, "missing {% " + *ends.rbegin() + " %} (end of template reached)");
        return body;
      }
      if (t.type == TokenType::Data) {
        auto s = std::make_unique<Stmt>();
        s->kind = StmtKind::Data;
        s->line = t.line;
        s->text = t.value;
        body.push_back(std::move(s));
        next();
      } else if (t.type == TokenType::VarBegin) {
        auto s = std::make_unique<Stmt>();
        s->kind = StmtKind::Output;
        s->line = t.line;
        next();
        s->expr = parse_tuple(true, {});
        if (cur().type != TokenType::VarEnd) fail(cur().line, "expected '}}', got " + describe(cur()));
        next();
        body.push_back(std::move(s));
      } else if (t.type == TokenType::BlockBegin) {
        next();
        if (cur().type == TokenType::Name && ends.count(cur().value)) return body;
        body.push_back(statement());
      } else {
        fail(t.line, "unexpected " + describe(t));
      }
    }
  }

  StmtPtr statement() {
    const Token& t = cur();
    if (t.type != TokenType::Name) fail(t.line, "expected a tag name, got " + describe(t));
    const std::string tag = t.value;
    const int line = t.line;
    auto s = std::make_unique<Stmt>();
    s->line = line;
    next();
    if (tag == "if") return parse_if(std::move(s));
    if (tag == "for") return parse_for(std::move(s));
    if (tag == "set") return parse_set(std::move(s));
    if (tag == "macro") return parse_macro(std::move(s));
    if (tag == "break" || tag == "continue") {
      if (loop_depth_ == 0) fail(line, "'{% " + tag + " %}' outside a for loop");
      s->kind = tag == "break" ? StmtKind::Break : StmtKind::Continue;
      expect_block_end();
      return s;
    }
    if (tag == "filter") {
      s->kind = StmtKind::FilterBlock;
      s->filters = parse_filter_chain();
      expect_block_end();
      s->body = subparse({"endfilter"});
      next();
      expect_block_end();
      return s;
    }
    if (tag == "with") {
      s->kind = StmtKind::With;
      while (cur().type != TokenType::BlockEnd) {
        if (!s->assigns.empty()) expect_op(",");
        ExprPtr target = assign_target();
        expect_op("=");
        s->assigns.emplace_back(std::move(target), parse_expression(true));
      }
      expect_block_end();
      s->body = subparse({"endwith"});
      next();
      expect_block_end();
      return s;
    }
    if (tag == "generation") {  // transformers' AssistantTracker: marks assistant text, renders it as is
      s->kind = StmtKind::Scope;
      expect_block_end();
      s->body = subparse({"endgeneration"});
      next();
      expect_block_end();
      return s;
    }
    if (tag.starts_with("end") || tag == "elif" || tag == "else") fail(line, "unexpected '{% " + tag + " %}'");
    static const std::set<std::string> unsupported = {"call",  "include", "import", "from", "extends",
                                                      "block", "autoescape", "do", "trans", "raw"};
    if (unsupported.count(tag)) fail(line, "unsupported tag '{% " + tag + " %}'");
    fail(line, "unknown tag '{% " + tag + " %}'");
  }

  StmtPtr parse_if(StmtPtr s) {
    s->kind = StmtKind::If;
    s->expr = parse_tuple(false, {});
    expect_block_end();
    s->body = subparse({"elif", "else", "endif"});
    if (is_name("elif")) {
      auto e = std::make_unique<Stmt>();
      e->line = cur().line;
      next();
      s->else_body.push_back(parse_if(std::move(e)));
      return s;
    }
    if (skip_name("else")) {
      expect_block_end();
      s->else_body = subparse({"endif"});
    }
    next();  // endif
    expect_block_end();
    return s;
  }

  StmtPtr parse_for(StmtPtr s) {
    s->kind = StmtKind::For;
    s->target = assign_target(true, {"in"});
    if (!skip_name("in")) fail(cur().line, "expected 'in' in for loop, got " + describe(cur()));
    s->expr = parse_tuple(false, {"recursive", "if"});
    if (skip_name("if")) s->cond = parse_expression(true);
    if (is_name("recursive")) fail(cur().line, "unsupported: recursive for loops");
    expect_block_end();
    ++loop_depth_;
    s->body = subparse({"endfor", "else"});
    --loop_depth_;
    if (skip_name("else")) {
      expect_block_end();
      s->else_body = subparse({"endfor"});
    }
    next();  // endfor
    expect_block_end();
    return s;
  }

  StmtPtr parse_set(StmtPtr s) {
    s->target = assign_target(true, {}, true);
    if (skip_op("=")) {
      s->kind = StmtKind::Set;
      s->expr = parse_tuple(true, {});
      expect_block_end();
      return s;
    }
    s->kind = StmtKind::SetBlock;
    if (is_op("|")) s->filters = parse_filter_chain();
    expect_block_end();
    s->body = subparse({"endset"});
    next();
    expect_block_end();
    return s;
  }

  StmtPtr parse_macro(StmtPtr s) {
    s->kind = StmtKind::Macro;
    s->name = expect_name();
    macros_.insert(s->name);
    expect_op("(");
    while (!is_op(")")) {
      if (!s->params.empty()) expect_op(",");
      std::string p = expect_name();
      ExprPtr def;
      if (skip_op("=")) def = parse_expression(true);
      s->params.emplace_back(std::move(p), std::move(def));
    }
    next();
    expect_block_end();
    const int saved = loop_depth_;
    loop_depth_ = 0;
    s->body = subparse({"endmacro"});
    loop_depth_ = saved;
    next();
    if (cur().type == TokenType::Name) next();  // {% endmacro name %}
    expect_block_end();
    return s;
  }

  // A name, a tuple of names, or (for set) a namespace attribute ns.attr.
  ExprPtr assign_target(bool with_tuple = true, std::set<std::string> ends = {}, bool with_namespace = false) {
    const int line = cur().line;
    if (with_namespace && cur().type == TokenType::Name && peek().type == TokenType::Op && peek().value == "." &&
        peek(2).type == TokenType::Name) {
      auto obj = node(ExprKind::Name, line);
      obj->name = cur().value;
      next();
      next();
      auto e = node(ExprKind::Attr, line);
      e->name = cur().value;
      next();
      e->children.push_back(std::move(obj));
      return e;
    }
    std::vector<ExprPtr> names;
    bool tuple = false;
    for (;;) {
      if (!names.empty()) {
        if (!skip_op(",")) break;
        tuple = true;
      }
      if (cur().type != TokenType::Name || ends.count(cur().value)) {
        if (names.empty()) fail(line, "expected a name to assign to, got " + describe(cur()));
        break;
      }
      auto n = node(ExprKind::Name, cur().line);
      n->name = cur().value;
      if (n->name == "true" || n->name == "false" || n->name == "none" || n->name == "True" || n->name == "False" ||
          n->name == "None")
        fail(line, "cannot assign to '" + n->name + "'");
      next();
      names.push_back(std::move(n));
      if (!with_tuple) break;
    }
    if (!tuple) return std::move(names[0]);
    auto t = node(ExprKind::Tuple, line);
    t->children = std::move(names);
    return t;
  }

  bool tuple_end(const std::set<std::string>& ends) const {
    const Token& t = cur();
    if (t.type == TokenType::VarEnd || t.type == TokenType::BlockEnd || (t.type == TokenType::Op && t.value == ")"))
      return true;
    return t.type == TokenType::Name && ends.count(t.value);
  }

  ExprPtr parse_tuple(bool with_condexpr, const std::set<std::string>& ends, bool explicit_parens = false) {
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

  ExprPtr parse_expression(bool with_condexpr) {
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

  ExprPtr binary(ExprKind k, int line, ExprPtr l, ExprPtr r, std::string op = {}) {
    auto e = node(k, line);
    e->name = std::move(op);
    e->children.push_back(std::move(l));
    e->children.push_back(std::move(r));
    return e;
  }

  ExprPtr parse_or() {
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

  ExprPtr parse_and() {
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

  ExprPtr parse_not() {
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

  ExprPtr parse_compare() {
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

  ExprPtr parse_math1() {
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

  ExprPtr parse_concat() {
    const int line = cur().line;
    ExprPtr first = parse_math2();
    if (!is_op("~")) return first;
    auto c = node(ExprKind::Concat, line);
    c->children.push_back(std::move(first));
    while (skip_op("~")) c->children.push_back(parse_math2());
    return c;
  }

  ExprPtr parse_math2() {
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

  ExprPtr parse_pow() {
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

  ExprPtr parse_unary(bool with_filter) {
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

  ExprPtr parse_primary() {
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

  ExprPtr parse_postfix(ExprPtr e) {
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

  ExprPtr parse_subscript(ExprPtr obj, int line) {
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
  ExprPtr parse_subscribed() {
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

  ExprPtr slice_of(ExprPtr obj, int line) {
    expect_op("]");
    auto s = node(ExprKind::Slice, line);
    s->children.push_back(std::move(obj));
    for (auto& p : slice_parts_) s->children.push_back(std::move(p));
    slice_parts_.clear();
    return s;
  }

  void parse_args(Expr& e) {
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

  ExprPtr parse_call(ExprPtr callee) {
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

  ExprPtr parse_filter_expr(ExprPtr e) {
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
  std::vector<ExprPtr> parse_filter_chain() {
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

  ExprPtr parse_test(ExprPtr e) {
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

  std::vector<Token> toks_;
  size_t pos_ = 0;
  int loop_depth_ = 0;
  int nesting_ = 0;  // see Nesting
  std::set<std::string> macros_;
  std::vector<std::pair<std::string, int>> called_;
  std::vector<ExprPtr> slice_parts_;
};

}  // namespace

Body parse(std::string_view source) {
  try {
    return Parser(lex(source)).run();
  } catch (const Error& e) {
    ROTOR_FAIL("{}", one_line(e.what(), kMaxMessageBytes));
  }
}

}  // namespace rotor::jinja
