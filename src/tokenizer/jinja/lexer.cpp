// tokenizer/jinja/lexer.cpp — Jinja2's lexer (jinja2/lexer.py) for the default delimiters.
#include "tokenizer/jinja/lexer.h"

#include <cstring>

#include "core/check.h"
#include "tokenizer/utf8.h"

namespace rotor::jinja {
namespace {

// Python's str.rstrip() / re \s* as the lexer uses them.
size_t rstrip_end(std::string_view s) {
  size_t end = s.size();
  while (end > 0) {
    size_t start = end - 1;
    while (start > 0 && (static_cast<uint8_t>(s[start]) & 0xC0) == 0x80) --start;
    size_t p = start;
    if (!py_isspace(utf8::next(s, p))) break;
    end = start;
  }
  return end;
}

size_t skip_space(std::string_view s, size_t pos) {
  while (pos < s.size()) {
    size_t p = pos;
    if (!py_isspace(utf8::next(s, p))) break;
    pos = p;
  }
  return pos;
}

int count_newlines(std::string_view s) {
  int n = 0;
  for (char c : s) n += c == '\n';
  return n;
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_name_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool is_name_char(char c) { return is_name_start(c) || is_digit(c); }

// Python's "unicode-escape" decoding of a string literal's body, as Jinja does it.
std::string unescape(std::string_view body, int line) {
  std::string out;
  for (size_t i = 0; i < body.size(); ++i) {
    if (body[i] != '\\' || i + 1 == body.size()) {
      out += body[i];
      continue;
    }
    const char e = body[++i];
    auto hexval = [&](size_t digits) {
      uint32_t v = 0;
      for (size_t k = 1; k <= digits; ++k) {
        ROTOR_CHECK(i + k < body.size(), "chat template line {}: truncated \\{} escape", line, e);
        const char h = body[i + k];
        v <<= 4;
        if (h >= '0' && h <= '9') v |= static_cast<uint32_t>(h - '0');
        else if (h >= 'a' && h <= 'f') v |= static_cast<uint32_t>(h - 'a' + 10);
        else if (h >= 'A' && h <= 'F') v |= static_cast<uint32_t>(h - 'A' + 10);
        else ROTOR_FAIL("chat template line {}: bad \\{} escape", line, e);
      }
      i += digits;
      ROTOR_CHECK(v < 0x110000 && (v < 0xD800 || v > 0xDFFF), "chat template line {}: escape out of range", line);
      utf8::append(out, v);
    };
    switch (e) {
      case '\n': break;
      case '\\': out += '\\'; break;
      case '\'': out += '\''; break;
      case '"': out += '"'; break;
      case 'a': out += '\a'; break;
      case 'b': out += '\b'; break;
      case 'f': out += '\f'; break;
      case 'n': out += '\n'; break;
      case 'r': out += '\r'; break;
      case 't': out += '\t'; break;
      case 'v': out += '\v'; break;
      case 'x': hexval(2); break;
      case 'u': hexval(4); break;
      case 'U': hexval(8); break;
      default:
        if (e >= '0' && e <= '7') {
          uint32_t v = static_cast<uint32_t>(e - '0');
          for (int k = 0; k < 2 && i + 1 < body.size() && body[i + 1] >= '0' && body[i + 1] <= '7'; ++k)
            v = v * 8 + static_cast<uint32_t>(body[++i] - '0');
          utf8::append(out, v);
        } else {
          out += '\\';
          out += e;
        }
    }
  }
  return out;
}

class Lexer {
 public:
  explicit Lexer(std::string_view src) : src_(src) {}

  std::vector<Token> run() {
    while (pos_ < src_.size()) {
      const size_t tag = next_tag(pos_);
      if (tag == std::string_view::npos) {
        emit_data(src_.substr(pos_));
        break;
      }
      const char kind = src_[tag + 1];  // '{', '%' or '#'
      const char sign = tag + 2 < src_.size() && (src_[tag + 2] == '-' || src_[tag + 2] == '+') ? src_[tag + 2] : 0;
      std::string_view text = src_.substr(pos_, tag - pos_);
      const int text_lines = count_newlines(text);
      if (sign == '-') {
        text = text.substr(0, rstrip_end(text));
      } else if (sign != '+' && kind != '{') {  // lstrip_blocks
        const size_t nl = text.rfind('\n');
        const size_t l_pos = nl == std::string_view::npos ? 0 : nl + 1;
        if (l_pos > 0 || line_starting_) {
          const std::string_view tail = text.substr(l_pos);
          if (tail.find_first_not_of(" \t") == std::string_view::npos) text = text.substr(0, l_pos);
        }
      }
      emit_data(text);
      line_ += text_lines;
      pos_ = tag + 2 + (sign ? 1 : 0);
      if (kind == '#') comment();
      else if (kind == '%' && raw_block()) continue;
      else tag_body(kind == '{');
    }
    out_.push_back({TokenType::Eof, "", line_});
    return std::move(out_);
  }

 private:
  size_t next_tag(size_t from) const {
    for (size_t i = src_.find('{', from); i != std::string_view::npos; i = src_.find('{', i + 1))
      if (i + 1 < src_.size() && (src_[i + 1] == '{' || src_[i + 1] == '%' || src_[i + 1] == '#')) return i;
    return std::string_view::npos;
  }

  void emit_data(std::string_view text) {
    if (!text.empty()) out_.push_back({TokenType::Data, std::string(text), line_});
  }

  // After a tag end: the trim_blocks newline or the `-` whitespace; sets line_starting_.
  void after_end(size_t end_pos, bool minus, bool plus) {
    size_t p = end_pos;
    if (minus) p = skip_space(src_, p);
    else if (!plus && p < src_.size() && src_[p] == '\n') ++p;  // trim_blocks
    line_ += count_newlines(src_.substr(end_pos, p - end_pos));
    line_starting_ = p > 0 && src_[p - 1] == '\n';
    pos_ = p;
  }

  void comment() {
    const int start_line = line_;
    const size_t end = src_.find("#}", pos_);
    ROTOR_CHECK(end != std::string_view::npos, "chat template line {}: comment not closed with #}}", start_line);
    const bool minus = end > pos_ && src_[end - 1] == '-';
    const bool plus = end > pos_ && src_[end - 1] == '+';
    line_ += count_newlines(src_.substr(pos_, end - pos_));
    after_end(end + 2, minus, plus);
  }

  // {% raw %} ... {% endraw %}: the text between is data, verbatim.
  bool raw_block() {
    size_t p = skip_space(src_, pos_);
    if (src_.substr(p, 3) != "raw" || (p + 3 < src_.size() && is_name_char(src_[p + 3]))) return false;
    p = skip_space(src_, p + 3);
    const bool minus = src_.substr(p, 3) == "-%}";
    if (!minus && src_.substr(p, 2) != "%}") return false;
    p += minus ? 3 : 2;
    if (minus) p = skip_space(src_, p);
    for (size_t t = next_tag(p); t != std::string_view::npos; t = next_tag(t + 1)) {
      if (src_[t + 1] != '%') continue;
      const char sign = t + 2 < src_.size() && (src_[t + 2] == '-' || src_[t + 2] == '+') ? src_[t + 2] : 0;
      size_t q = skip_space(src_, t + 2 + (sign ? 1 : 0));
      if (src_.substr(q, 6) != "endraw") continue;
      q = skip_space(src_, q + 6);
      const bool end_minus = src_.substr(q, 3) == "-%}", end_plus = src_.substr(q, 3) == "+%}";
      if (!end_minus && !end_plus && src_.substr(q, 2) != "%}") continue;
      std::string_view text = src_.substr(p, t - p);
      const int lines = count_newlines(src_.substr(pos_, t - pos_));
      if (sign == '-') {
        text = text.substr(0, rstrip_end(text));
      } else if (sign != '+') {
        const size_t nl = text.rfind('\n');
        if (nl != std::string_view::npos && text.substr(nl + 1).find_first_not_of(" \t") == std::string_view::npos)
          text = text.substr(0, nl + 1);
      }
      emit_data(text);
      line_ += lines;
      after_end(q + (end_minus || end_plus ? 3 : 2), end_minus, end_plus);
      return true;
    }
    ROTOR_FAIL("chat template line {}: {{% raw %}} without {{% endraw %}}", line_);
  }

  void tag_body(bool variable) {
    out_.push_back({variable ? TokenType::VarBegin : TokenType::BlockBegin, variable ? "{{" : "{%", line_});
    const int start_line = line_;
    std::vector<char> brackets;
    for (;;) {
      ROTOR_CHECK(pos_ < src_.size(), "chat template line {}: tag not closed with {}", start_line,
                  variable ? "}}" : "%}");
      if (brackets.empty()) {
        const std::string_view rest = src_.substr(pos_);
        const char* end = variable ? "}}" : "%}";
        const bool minus = rest.size() >= 3 && rest[0] == '-' && rest.substr(1, 2) == end;
        const bool plus = !variable && rest.size() >= 3 && rest[0] == '+' && rest.substr(1, 2) == end;
        if (minus || plus || rest.substr(0, 2) == end) {
          out_.push_back({variable ? TokenType::VarEnd : TokenType::BlockEnd, end, line_});
          const size_t after = pos_ + (minus || plus ? 3 : 2);
          if (variable) {  // no trim_blocks after }}
            size_t p = minus ? skip_space(src_, after) : after;
            line_ += count_newlines(src_.substr(after, p - after));
            line_starting_ = p > 0 && src_[p - 1] == '\n';
            pos_ = p;
          } else {
            after_end(after, minus, plus);
          }
          return;
        }
      }
      const char c = src_[pos_];
      size_t p = pos_;
      if (py_isspace(utf8::next(src_, p))) {
        line_ += c == '\n';
        pos_ = p;
        continue;
      }
      if (is_digit(c)) {  // after a '.', only an integer (x.0 is x[0])
        number(pos_ > 0 && src_[pos_ - 1] == '.');
        continue;
      }
      if (is_name_start(c)) {
        size_t e = pos_;
        while (e < src_.size() && is_name_char(src_[e])) ++e;
        out_.push_back({TokenType::Name, std::string(src_.substr(pos_, e - pos_)), line_});
        pos_ = e;
        continue;
      }
      if (c == '\'' || c == '"') {
        string_literal(c);
        continue;
      }
      static const char* two[] = {"//", "**", "==", "!=", ">=", "<="};
      std::string op;
      for (const char* t : two)
        if (src_.substr(pos_, 2) == t) op = t;
      if (op.empty()) {
        ROTOR_CHECK(std::strchr("+-/*%~[](){}<>=.:|,;", c) != nullptr && c != 0,
                    "chat template line {}: unexpected character '{}'", line_, std::string(1, c));
        op = std::string(1, c);
      }
      if (op == "(" || op == "[" || op == "{") brackets.push_back(op[0]);
      if (op == ")" || op == "]" || op == "}") {
        const char open = op == ")" ? '(' : op == "]" ? '[' : '{';
        ROTOR_CHECK(!brackets.empty() && brackets.back() == open, "chat template line {}: unexpected '{}'", line_, op);
        brackets.pop_back();
      }
      out_.push_back({TokenType::Op, op, line_});
      pos_ += op.size();
    }
  }

  void number(bool integer_only) {
    auto digits = [&](size_t p) {
      while (p < src_.size() && (is_digit(src_[p]) || (src_[p] == '_' && p + 1 < src_.size() && is_digit(src_[p + 1])))) ++p;
      return p;
    };
    size_t e = digits(pos_);
    bool is_float = false;
    if (!integer_only && e + 1 < src_.size() && src_[e] == '.' && is_digit(src_[e + 1])) {
      e = digits(e + 1);
      is_float = true;
    }
    if (!integer_only && e < src_.size() && (src_[e] == 'e' || src_[e] == 'E')) {
      size_t q = e + 1;
      if (q < src_.size() && (src_[q] == '+' || src_[q] == '-')) ++q;
      if (q < src_.size() && is_digit(src_[q])) {
        e = digits(q);
        is_float = true;
      }
    }
    std::string text;
    for (size_t i = pos_; i < e; ++i)
      if (src_[i] != '_') text += src_[i];
    out_.push_back({is_float ? TokenType::Float : TokenType::Int, text, line_});
    pos_ = e;
  }

  void string_literal(char q) {
    const int start_line = line_;
    size_t p = pos_ + 1;
    while (p < src_.size() && src_[p] != q) {
      if (src_[p] == '\\') ++p;
      ++p;
    }
    ROTOR_CHECK(p < src_.size(), "chat template line {}: string literal not closed", start_line);
    const std::string_view body = src_.substr(pos_ + 1, p - pos_ - 1);
    line_ += count_newlines(body);
    out_.push_back({TokenType::String, unescape(body, start_line), start_line});
    pos_ = p + 1;
  }

  std::string_view src_;
  size_t pos_ = 0;
  int line_ = 1;
  bool line_starting_ = true;
  std::vector<Token> out_;
};

}  // namespace

bool py_isspace(char32_t c) {
  return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

std::vector<Token> lex(std::string_view source) {
  // Newlines become "\n"; one trailing newline is dropped (keep_trailing_newline=False).
  const std::string valid = utf8::repair(source);
  std::string src;
  src.reserve(valid.size());
  for (size_t i = 0; i < valid.size(); ++i) {
    if (valid[i] == '\r') {
      src += '\n';
      if (i + 1 < valid.size() && valid[i + 1] == '\n') ++i;
    } else {
      src += valid[i];
    }
  }
  if (!src.empty() && src.back() == '\n') src.pop_back();
  return Lexer(src).run();
}

}  // namespace rotor::jinja
