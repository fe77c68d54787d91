// structured/regex.cpp — a recursive-descent regex parser producing grammar expressions.
#include "structured/regex.h"

#include <cctype>

#include "core/check.h"
#include "structured/hex_digits.h"
#include "tokenizer/utf8.h"

namespace rotor::structured {
namespace {

std::vector<Range> digit() { return {{'0', '9'}}; }
std::vector<Range> word() { return {{'0', '9'}, {'A', 'Z'}, {'_', '_'}, {'a', 'z'}}; }
std::vector<Range> space() { return {{'\t', '\r'}, {' ', ' '}, {0xA0, 0xA0}, {0x2028, 0x2029}, {0xFEFF, 0xFEFF}}; }

// Groups nest at most this deep: the parser recurses once a group, and a few hundred thousand
// would overflow the stack.
constexpr int kMaxGroupDepth = 256;

class RegexParser {
 public:
  RegexParser(std::string_view s, const RegexOptions& o) : s_(s), o_(o) {}

  Expr run() {
    bool anchored_start = false, anchored_end = false;
    if (peek() == '^') ++i_, anchored_start = true;
    Expr e = parse_alternatives();
    if (peek() == '$') ++i_, anchored_end = true;
    if (!at_end()) fail(peek() == ')' ? "unbalanced ')'" : "unexpected character");
    if (!o_.search) return e;
    std::vector<Expr> parts;
    if (!anchored_start) parts.push_back(star(cls(normalize_ranges({}, true))));
    parts.push_back(std::move(e));
    if (!anchored_end) parts.push_back(star(cls(normalize_ranges({}, true))));
    return seq(std::move(parts));
  }

 private:
  // The pattern is shown up to its first 60 bytes or so (a request's can be megabytes).
  [[noreturn]] void fail(std::string_view what) const {
    size_t shown = std::min<size_t>(s_.size(), 60);
    while (shown < s_.size() && shown > 0 && (static_cast<unsigned char>(s_[shown]) & 0xC0) == 0x80) --shown;
    throw Error(fmt::format("regex '{}{}': {} at offset {}", s_.substr(0, shown), shown < s_.size() ? "..." : "", what,
                            i_));
  }
  bool at_end() const { return i_ >= s_.size(); }
  char peek() const { return at_end() ? '\0' : s_[i_]; }
  Expr cls(const std::vector<Range>& r) const { return o_.char_class ? o_.char_class(r) : chars(r); }

  Expr parse_alternatives() {
    std::vector<Expr> options{parse_sequence()};
    while (peek() == '|') {
      ++i_;
      options.push_back(parse_sequence());
    }
    return alt(std::move(options));
  }
  Expr parse_sequence() {
    std::vector<Expr> parts;
    while (!at_end() && peek() != '|' && peek() != ')') {
      // A $ is an anchor only at the very end (or before | or ) in a top-level sense).
      if (peek() == '$' && (i_ + 1 == s_.size())) break;
      parts.push_back(parse_quantified());
    }
    return seq(std::move(parts));
  }
  // An atom and its quantifier. A second one is an error, as in Python's re and ECMAScript
  // ("a**" nested a repetition a character, and a few hundred thousand overflowed the stack).
  Expr parse_quantified() {
    Expr e = parse_atom();
    const char c = peek();
    int lo, hi;
    if (c == '*') lo = 0, hi = -1, ++i_;
    else if (c == '+') lo = 1, hi = -1, ++i_;
    else if (c == '?') lo = 0, hi = 1, ++i_;
    else if (c != '{' || !parse_braces(lo, hi)) return e;
    if (peek() == '?') ++i_;  // lazy: the same strings
    else if (peek() == '+') fail("possessive quantifiers are not supported");
    int more_lo, more_hi;
    if (peek() == '*' || peek() == '+' || peek() == '?' || (peek() == '{' && parse_braces(more_lo, more_hi)))
      fail("multiple repeat (a quantifier after a quantifier)");
    return repeat(std::move(e), lo, hi);
  }
  // {m}, {m,}, {m,n}; false (nothing consumed) when the brace is a literal.
  bool parse_braces(int& lo, int& hi) {
    size_t k = i_ + 1;
    auto num = [&](int& v) {
      const size_t b = k;
      long x = 0;
      while (k < s_.size() && std::isdigit(static_cast<unsigned char>(s_[k]))) {
        x = x * 10 + (s_[k++] - '0');
        if (x > 100000) fail("repetition count too large");
      }
      v = static_cast<int>(x);
      return k > b;
    };
    if (!num(lo)) return false;
    hi = lo;
    if (k < s_.size() && s_[k] == ',') {
      ++k;
      if (!num(hi)) hi = -1;
    }
    if (k >= s_.size() || s_[k] != '}') return false;
    if (hi >= 0 && hi < lo) fail("repetition {m,n} with n < m");
    i_ = k + 1;
    return true;
  }
  Expr parse_atom() {
    const char c = s_[i_];
    if (c == '(') {
      if (depth_ >= kMaxGroupDepth) fail(fmt::format("groups nested deeper than {}", kMaxGroupDepth));
      ++i_;
      ++depth_;
      if (peek() == '?') {
        ++i_;
        const char k = peek();
        if (k == ':') {
          ++i_;
        } else if (k == 'P' && i_ + 1 < s_.size() && s_[i_ + 1] == '<') {
          skip_group_name(i_ + 2);
        } else if (k == '<' && i_ + 1 < s_.size() && s_[i_ + 1] != '=' && s_[i_ + 1] != '!') {
          skip_group_name(i_ + 1);
        } else if (k == '=' || k == '!' || k == '<') {
          fail("lookaround assertions are not supported");
        } else {
          fail("inline flags and other (?...) groups are not supported");
        }
      }
      Expr e = parse_alternatives();
      if (peek() != ')') fail("missing ')'");
      ++i_;
      --depth_;
      return e;
    }
    if (c == '[') return parse_class();
    if (c == '.') {
      ++i_;
      return cls(normalize_ranges({{'\n', '\n'}, {'\r', '\r'}, {0x2028, 0x2029}}, true));
    }
    if (c == '^') fail("'^' is only supported at the start");
    if (c == '$') fail("'$' is only supported at the end");
    if (c == '*' || c == '+' || c == '?') fail("nothing to repeat");
    if (c == '\\') {
      ++i_;
      std::vector<Range> r;
      bool negated = false;
      if (class_escape(r, negated)) return cls(normalize_ranges(std::move(r), negated));
      const uint32_t cp = escape_char();
      return cls({{cp, cp}});
    }
    const uint32_t cp = next_char();
    return cls({{cp, cp}});
  }
  void skip_group_name(size_t from) {
    const size_t e = s_.find('>', from);
    if (e == std::string_view::npos) fail("unterminated group name");
    i_ = e + 1;
  }
  // \d \D \w \W \s \S (after the backslash); false for other escapes (nothing consumed).
  bool class_escape(std::vector<Range>& r, bool& negated) {
    const char e = peek();
    switch (e) {
      case 'd': case 'D': r = digit(); break;
      case 'w': case 'W': r = word(); break;
      case 's': case 'S': r = space(); break;
      default: return false;
    }
    negated = std::isupper(static_cast<unsigned char>(e)) != 0;
    ++i_;
    return true;
  }
  uint32_t hex(int n) {
    const std::optional<uint32_t> v = read_hex_digits(s_, i_, n);
    if (!v) fail("bad hex escape");
    return *v;
  }
  // A single-character escape (after the backslash).
  uint32_t escape_char() {
    if (at_end()) fail("dangling backslash");
    const char e = s_[i_++];
    switch (e) {
      case 'n': return '\n';
      case 't': return '\t';
      case 'r': return '\r';
      case 'f': return '\f';
      case 'v': return '\v';
      case '0': return 0;
      case 'x': return hex(2);
      case 'u':
        if (peek() == '{') {
          ++i_;
          uint32_t v = 0;
          while (peek() != '}') v = v * 16 + hex(1);
          ++i_;
          return v;
        }
        return hex(4);
      case 'b': case 'B': fail("word boundaries (\\b, \\B) are not supported");
      case 'p': case 'P': fail("Unicode property escapes (\\p) are not supported");
      default:
        if (std::isdigit(static_cast<unsigned char>(e))) fail("back-references are not supported");
        if (std::isalpha(static_cast<unsigned char>(e))) fail(fmt::format("unknown escape '\\{}'", e));
        return static_cast<unsigned char>(e);
    }
  }
  // One character of the pattern, UTF-8 decoded.
  uint32_t next_char() {
    if (const std::optional<char32_t> cp = utf8::decode(s_, i_)) return *cp;
    ++i_;  // the error points past the character's first byte
    fail("invalid UTF-8");
  }
  Expr parse_class() {
    ++i_;
    const bool negated = peek() == '^';
    if (negated) ++i_;
    std::vector<Range> ranges;
    bool first = true;
    while (first || peek() != ']') {
      if (at_end()) fail("unterminated character class");
      first = false;
      uint32_t lo;
      if (peek() == '\\') {
        ++i_;
        bool neg = false;
        std::vector<Range> r;
        if (class_escape(r, neg)) {
          for (const Range& x : normalize_ranges(std::move(r), neg)) ranges.push_back(x);
          continue;
        }
        lo = peek() == 'b' ? (++i_, 8u) : escape_char();
      } else {
        lo = next_char();
      }
      uint32_t hi = lo;
      if (peek() == '-' && i_ + 1 < s_.size() && s_[i_ + 1] != ']') {
        ++i_;
        if (peek() == '\\') {
          ++i_;
          hi = escape_char();
        } else {
          hi = next_char();
        }
        if (hi < lo) fail("character range out of order");
      }
      ranges.push_back({lo, hi});
    }
    ++i_;
    return cls(normalize_ranges(std::move(ranges), negated));
  }

  std::string_view s_;
  const RegexOptions& o_;
  size_t i_ = 0;
  int depth_ = 0;  // groups open at i_
};

}  // namespace

Expr parse_regex(std::string_view pattern, const RegexOptions& options) { return RegexParser(pattern, options).run(); }

Grammar regex_grammar(std::string_view pattern) {
  Grammar g;
  g.root = g.add_rule("root", parse_regex(pattern));
  return g;
}

}  // namespace rotor::structured
