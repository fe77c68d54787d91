// tokenizer/jinja/token_reader.h — TokenReader: the parser's reading of the token stream:
// the current token and look-ahead, expecting an operator, a name or '%}', errors naming the
// template line, the nesting count that bounds recursion (kMaxParseDepth), new tree nodes.
#pragma once
#include <algorithm>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/check.h"
#include "tokenizer/jinja/ast.h"
#include "tokenizer/jinja/lexer.h"
#include "tokenizer/jinja/parser.h"

namespace rotor::jinja {

class TokenReader {
 public:
  explicit TokenReader(std::vector<Token> tokens) : toks_(std::move(tokens)) {}

 protected:
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
    explicit Nesting(TokenReader& p) : p_(p), saved_(p.nesting_) {}
    ~Nesting() { p_.nesting_ = saved_; }
    Nesting(const Nesting&) = delete;
    Nesting& operator=(const Nesting&) = delete;
    void deeper() {
      if (++p_.nesting_ > kMaxParseDepth)
        fail(p_.cur().line, "nested more than " + std::to_string(kMaxParseDepth) + " levels deep");
    }

   private:
    TokenReader& p_;
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

 private:
  std::vector<Token> toks_;
  size_t pos_ = 0;
  int nesting_ = 0;  // see Nesting
};

}  // namespace rotor::jinja
