// structured/ebnf.cpp — a recursive-descent parser of GBNF text into a Grammar.
#include "structured/ebnf.h"

#include <cctype>

#include "core/check.h"
#include "structured/hex_digits.h"
#include "structured/utf8_ranges.h"
#include "tokenizer/utf8.h"

namespace rotor::structured {
namespace {

// Groups nest at most this deep: the parser recurses once a group, and a few hundred thousand
// would overflow the stack.
constexpr int kMaxGroupDepth = 256;

class EbnfParser {
 public:
  explicit EbnfParser(std::string_view s) : s_(s) {}

  Grammar run(std::string_view root) {
    skip_space(true);
    while (i_ < s_.size()) {
      const std::string name = parse_name();
      skip_space(true);
      expect("::=");
      const int id = g_.rule_id(name);
      if (defined_.size() <= static_cast<size_t>(id)) defined_.resize(static_cast<size_t>(id) + 1, false);
      if (defined_[static_cast<size_t>(id)]) fail("rule '" + name + "' is defined twice");
      defined_[static_cast<size_t>(id)] = true;
      g_.rules[static_cast<size_t>(id)].body = parse_alternatives(0);
      skip_space(true);
    }
    for (size_t r = 0; r < g_.rules.size(); ++r)
      ROTOR_CHECK(r < defined_.size() && defined_[r], "grammar: rule '{}' is used but not defined", g_.rules[r].name);
    g_.root = g_.find(root);
    ROTOR_CHECK(g_.root >= 0, "grammar: no '{}' rule", root);
    return std::move(g_);
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    size_t line = 1, col = 1;
    for (size_t k = 0; k < i_ && k < s_.size(); ++k) {
      if (s_[k] == '\n') ++line, col = 1;
      else ++col;
    }
    throw Error(fmt::format("grammar: {} at line {}, column {}", what, line, col));
  }
  bool at_end() const { return i_ >= s_.size(); }
  char peek() const { return at_end() ? '\0' : s_[i_]; }
  static bool name_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.'; }

  // Spaces and comments; newlines too when `newlines` (between rules, inside groups).
  void skip_space(bool newlines) {
    while (!at_end()) {
      const char c = s_[i_];
      if (c == '#') {
        while (!at_end() && s_[i_] != '\n') ++i_;
      } else if (c == ' ' || c == '\t' || c == '\r' || (newlines && c == '\n')) {
        ++i_;
      } else if (c == '\n') {
        // A line break ends a sequence unless the next line continues it (starts with `|`
        // or is not a new rule).
        size_t k = i_;
        while (k < s_.size() && std::isspace(static_cast<unsigned char>(s_[k]))) ++k;
        if (starts_rule(k)) return;
        i_ = k;
      } else {
        return;
      }
    }
  }
  bool starts_rule(size_t k) const {
    size_t e = k;
    while (e < s_.size() && name_char(s_[e])) ++e;
    if (e == k) return false;
    while (e < s_.size() && (s_[e] == ' ' || s_[e] == '\t')) ++e;
    return s_.substr(e, 3) == "::=";
  }
  void expect(std::string_view t) {
    if (s_.substr(i_, t.size()) != t) fail(fmt::format("expected '{}'", t));
    i_ += t.size();
  }
  std::string parse_name() {
    const size_t b = i_;
    while (!at_end() && name_char(s_[i_])) ++i_;
    if (b == i_) fail("expected a rule name");
    return std::string(s_.substr(b, i_ - b));
  }

  Expr parse_alternatives(int depth) {
    std::vector<Expr> options{parse_sequence(depth)};
    while (peek() == '|') {
      ++i_;
      skip_space(depth > 0);
      options.push_back(parse_sequence(depth));
    }
    return alt(std::move(options));
  }
  Expr parse_sequence(int depth) {
    std::vector<Expr> parts;
    skip_space(depth > 0);
    while (!at_end()) {
      const char c = peek();
      if (c == '|' || c == ')' || starts_rule(i_)) break;
      if (c == '\n') {
        skip_space(depth > 0);
        if (at_end() || starts_rule(i_) || peek() == '\n') break;
        continue;
      }
      parts.push_back(parse_postfix(depth));
      skip_space(depth > 0);
    }
    return seq(std::move(parts));
  }
  // A primary and its repetition operator. A second one is an error ("x**" nested a
  // repetition a character, and a few hundred thousand overflowed the stack).
  Expr parse_postfix(int depth) {
    Expr e = parse_primary(depth);
    const char c = peek();
    if (c == '*') e = star(std::move(e)), ++i_;
    else if (c == '+') e = plus(std::move(e)), ++i_;
    else if (c == '?') e = opt(std::move(e)), ++i_;
    else if (c == '{') e = parse_braces(std::move(e));
    else return e;
    const char next = peek();
    if (next == '*' || next == '+' || next == '?' || next == '{')
      fail("a repetition operator after another (group the repeated part)");
    return e;
  }
  int parse_int() {
    const size_t b = i_;
    long v = 0;
    while (!at_end() && std::isdigit(static_cast<unsigned char>(s_[i_]))) {
      v = v * 10 + (s_[i_++] - '0');
      if (v > 100000) fail("repetition count too large");
    }
    if (b == i_) fail("expected a number");
    return static_cast<int>(v);
  }
  Expr parse_braces(Expr e) {
    ++i_;
    skip_space(false);
    const int lo = parse_int();
    int hi = lo;
    skip_space(false);
    if (peek() == ',') {
      ++i_;
      skip_space(false);
      hi = peek() == '}' ? -1 : parse_int();
      skip_space(false);
    }
    expect("}");
    if (hi >= 0 && hi < lo) fail("repetition {m,n} with n < m");
    return repeat(std::move(e), lo, hi);
  }
  Expr parse_primary(int depth) {
    const char c = peek();
    if (c == '(') {
      if (depth >= kMaxGroupDepth) fail(fmt::format("groups nested deeper than {}", kMaxGroupDepth));
      ++i_;
      skip_space(true);
      Expr e = parse_alternatives(depth + 1);
      skip_space(true);
      expect(")");
      return e;
    }
    if (c == '"') {
      ++i_;
      std::string bytes;
      while (peek() != '"') {
        if (at_end()) fail("unterminated string");
        append_utf8(bytes, parse_char());
      }
      ++i_;
      return lit(bytes);
    }
    if (c == '[') return parse_class();
    if (c == '.') {
      ++i_;
      return chars({}, true);
    }
    if (name_char(c)) return ref(g_.rule_id(parse_name()));
    fail(fmt::format("unexpected '{}'", c));
  }
  Expr parse_class() {
    ++i_;
    const bool negated = peek() == '^';
    if (negated) ++i_;
    std::vector<Range> ranges;
    while (peek() != ']') {
      if (at_end()) fail("unterminated character class");
      const uint32_t lo = parse_char();
      uint32_t hi = lo;
      if (peek() == '-' && i_ + 1 < s_.size() && s_[i_ + 1] != ']') {
        ++i_;
        hi = parse_char();
        if (hi < lo) fail("character range out of order");
      }
      ranges.push_back({lo, hi});
    }
    ++i_;
    return chars(std::move(ranges), negated);
  }
  uint32_t parse_hex(int n) {
    const std::optional<uint32_t> v = read_hex_digits(s_, i_, n);
    if (!v) fail("bad hex escape");
    return *v;
  }
  // One character of a literal or class (UTF-8 decoded, escapes resolved).
  uint32_t parse_char() {
    if (s_[i_] == '\\') {
      ++i_;
      if (at_end()) fail("dangling escape");
      const char e = s_[i_++];
      switch (e) {
        case 'n': return '\n';
        case 't': return '\t';
        case 'r': return '\r';
        case '0': return 0;
        case 'x': return parse_hex(2);
        case 'u': return parse_hex(4);
        case 'U': return parse_hex(8);
        default:
          if (std::isalnum(static_cast<unsigned char>(e))) fail(fmt::format("unknown escape '\\{}'", e));
          return static_cast<unsigned char>(e);
      }
    }
    if (const std::optional<char32_t> cp = utf8::decode(s_, i_)) return *cp;
    ++i_;  // the error points past the character's first byte
    fail("invalid UTF-8");
  }

  std::string_view s_;
  size_t i_ = 0;
  Grammar g_;
  std::vector<bool> defined_;
};

}  // namespace

Grammar parse_ebnf(std::string_view text, std::string_view root) { return EbnfParser(text).run(root); }

}  // namespace rotor::structured
