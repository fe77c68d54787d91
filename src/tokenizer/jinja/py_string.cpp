// tokenizer/jinja/py_string.cpp — Python's str methods over UTF-8 text, by code point: case
// mapping and character classes (utf8proc), split / rsplit / splitlines, strip, find,
// center / ljust / rjust, startswith / endswith, and str.format.
#include "tokenizer/jinja/py_string.h"

#include <utf8proc.h>

#include <algorithm>

#include "core/check.h"
#include "tokenizer/jinja/arguments.h"
#include "tokenizer/jinja/lexer.h"
#include "tokenizer/utf8.h"

namespace rotor::jinja {
namespace {

utf8proc_category_t category(char32_t c) { return utf8proc_category(static_cast<utf8proc_int32_t>(c)); }
char32_t title(char32_t c) { return static_cast<char32_t>(utf8proc_totitle(static_cast<utf8proc_int32_t>(c))); }

}  // namespace

std::u32string u32(const std::string& s) {
  std::u32string out;
  size_t pos = 0;
  while (pos < s.size()) out.push_back(utf8::next(s, pos));
  return out;
}

std::vector<std::string_view> chars_of(const std::string& s) {
  std::vector<std::string_view> out;
  size_t pos = 0;
  while (pos < s.size()) {
    const size_t start = pos;
    utf8::next(s, pos);
    out.push_back(std::string_view(s).substr(start, pos - start));
  }
  return out;
}

std::string u8(const std::u32string& s) {
  std::string out;
  for (char32_t c : s) utf8::append(out, c);
  return out;
}

char32_t upper(char32_t c) { return static_cast<char32_t>(utf8proc_toupper(static_cast<utf8proc_int32_t>(c))); }
char32_t lower(char32_t c) { return static_cast<char32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(c))); }
bool is_cased(char32_t c) { return upper(c) != c || lower(c) != c || category(c) == UTF8PROC_CATEGORY_LT; }
bool is_alpha(char32_t c) {
  const auto k = category(c);
  return k >= UTF8PROC_CATEGORY_LU && k <= UTF8PROC_CATEGORY_LO;
}
bool is_digit(char32_t c) { return category(c) == UTF8PROC_CATEGORY_ND; }

std::string map_chars(const std::string& s, char32_t (*f)(char32_t)) {
  std::u32string u = u32(s);
  for (char32_t& c : u) c = f(c);
  return u8(u);
}

std::string py_title(const std::string& s) {
  std::u32string u = u32(s);
  bool prev_cased = false;
  for (char32_t& c : u) {
    const bool cased = is_cased(c);
    c = prev_cased ? lower(c) : title(c);
    prev_cased = cased;
  }
  return u8(u);
}

std::string py_capitalize(const std::string& s) {
  std::u32string u = u32(s);
  for (size_t i = 0; i < u.size(); ++i) u[i] = i == 0 ? title(u[i]) : lower(u[i]);
  return u8(u);
}

// Python's str.splitlines().
std::vector<std::string> splitlines(const std::string& s, bool keepends) {
  std::vector<std::string> out;
  const std::u32string u = u32(s);
  size_t start = 0;
  for (size_t i = 0; i < u.size(); ++i) {
    const char32_t c = u[i];
    const bool nl = c == '\n' || c == '\r' || c == 0x0B || c == 0x0C || c == 0x1C || c == 0x1D || c == 0x1E ||
                    c == 0x85 || c == 0x2028 || c == 0x2029;
    if (!nl) continue;
    size_t end = i;
    if (c == '\r' && i + 1 < u.size() && u[i + 1] == '\n') ++i;
    out.push_back(u8(u.substr(start, (keepends ? i + 1 : end) - start)));
    start = i + 1;
  }
  if (start < u.size()) out.push_back(u8(u.substr(start)));
  return out;
}

std::vector<Value> py_split(const std::string& s, const Value& sep, int64_t maxsplit, bool from_right) {
  std::vector<std::string> parts;
  if (sep.is_none() || sep.is_undefined()) {
    const std::u32string u = u32(s);
    std::vector<std::pair<size_t, size_t>> words;
    size_t i = 0;
    while (i < u.size()) {
      while (i < u.size() && py_isspace(u[i])) ++i;
      if (i == u.size()) break;
      size_t j = i;
      while (j < u.size() && !py_isspace(u[j])) ++j;
      words.emplace_back(i, j);
      i = j;
    }
    if (maxsplit >= 0 && static_cast<int64_t>(words.size()) > maxsplit + 1) {
      if (!from_right) {
        const size_t keep = static_cast<size_t>(maxsplit);
        for (size_t k = 0; k < keep; ++k) parts.push_back(u8(u.substr(words[k].first, words[k].second - words[k].first)));
        std::u32string rest = u.substr(words[keep].first);
        while (!rest.empty() && py_isspace(rest.back())) rest.pop_back();
        parts.push_back(u8(rest));
      } else {
        const size_t first_kept = words.size() - static_cast<size_t>(maxsplit);
        std::u32string head = u.substr(0, words[first_kept - 1].second);
        size_t b = 0;
        while (b < head.size() && py_isspace(head[b])) ++b;
        parts.push_back(u8(head.substr(b)));
        for (size_t k = first_kept; k < words.size(); ++k)
          parts.push_back(u8(u.substr(words[k].first, words[k].second - words[k].first)));
      }
    } else {
      for (const auto& [a, b] : words) parts.push_back(u8(u.substr(a, b - a)));
    }
  } else {
    ROTOR_CHECK(sep.is_string(), "must be str or None, not {}", sep.type_name());
    const std::string& d = sep.as_string();
    ROTOR_CHECK(!d.empty(), "empty separator");
    if (!from_right) {
      size_t start = 0;
      int64_t n = 0;
      for (size_t p = s.find(d); p != std::string::npos && (maxsplit < 0 || n < maxsplit); p = s.find(d, start), ++n) {
        parts.push_back(s.substr(start, p - start));
        start = p + d.size();
      }
      parts.push_back(s.substr(start));
    } else {
      size_t end = s.size();
      int64_t n = 0;
      std::vector<std::string> rev;
      while (maxsplit < 0 || n < maxsplit) {
        if (end < d.size()) break;
        const size_t p = s.rfind(d, end - d.size());
        if (p == std::string::npos) break;
        rev.push_back(s.substr(p + d.size(), end - p - d.size()));
        end = p;
        ++n;
      }
      rev.push_back(s.substr(0, end));
      parts.assign(rev.rbegin(), rev.rend());
    }
  }
  std::vector<Value> out;
  for (std::string& p : parts) out.emplace_back(std::move(p));
  return out;
}

// Python's str.startswith / endswith (prefix may be a tuple).
bool affix(const std::string& s, const Value& arg, bool start) {
  auto one = [&](const Value& p) {
    const std::string a = require_string(p, start ? "startswith" : "endswith");
    return start ? s.starts_with(a) : s.ends_with(a);
  };
  if (arg.is_list()) {
    for (const Value& p : arg.as_list())
      if (one(p)) return true;
    return false;
  }
  return one(arg);
}

// str.format for {} / {0} / {name} fields without format specs.
std::string py_format(const std::string& fmt, const CallArgs& a) {
  std::string out;
  size_t auto_index = 0;
  for (size_t i = 0; i < fmt.size(); ++i) {
    const char c = fmt[i];
    if (c == '{' && i + 1 < fmt.size() && fmt[i + 1] == '{') {
      out += '{';
      ++i;
    } else if (c == '}' && i + 1 < fmt.size() && fmt[i + 1] == '}') {
      out += '}';
      ++i;
    } else if (c == '{') {
      const size_t close = fmt.find('}', i);
      ROTOR_CHECK(close != std::string::npos, "format: single '{{' encountered");
      std::string field = fmt.substr(i + 1, close - i - 1);
      ROTOR_CHECK(field.find_first_of(":!") == std::string::npos, "format: conversions and format specs are not supported");
      Value v;
      if (field.empty()) {
        ROTOR_CHECK(auto_index < a.args.size(), "format: index out of range");
        v = a.args[auto_index++];
      } else if (std::all_of(field.begin(), field.end(), [](char ch) { return ch >= '0' && ch <= '9'; })) {
        const size_t k = field.size() < 10 ? std::stoul(field) : SIZE_MAX;
        ROTOR_CHECK(k < a.args.size(), "format: index out of range");
        v = a.args[k];
      } else {
        v = a.get(SIZE_MAX, field, Value::undefined("format: no argument named '" + field + "'"));
        ROTOR_CHECK(!v.is_undefined(), "format: no argument named '{}'", field);
      }
      out += v.str();
      i = close;
    } else {
      ROTOR_CHECK(c != '}', "format: single '}}' encountered");
      out += c;
    }
  }
  return out;
}

int64_t py_find(const std::string& s, const std::string& sub, bool reverse) {
  const size_t p = reverse ? s.rfind(sub) : s.find(sub);
  if (p == std::string::npos) return -1;
  int64_t cp = 0;
  for (size_t i = 0; i < p; ++i) cp += (static_cast<uint8_t>(s[i]) & 0xC0) != 0x80;
  return cp;
}

// Python's str.center / ljust / rjust (align 0 / -1 / 1).
std::string pad(const std::string& s, int64_t width, const std::string& fill, int align) {
  const int64_t len = *Value(s).length();
  if (width <= len) return s;
  const int64_t total = width - len;
  check_string_size(static_cast<uint64_t>(total) > kMaxStringBytes ? kMaxStringBytes + 1
                                                                   : s.size() + static_cast<uint64_t>(total) * fill.size());
  const int64_t left = align < 0 ? 0 : align > 0 ? total : total / 2 + (total & width & 1);
  std::string out;
  for (int64_t i = 0; i < left; ++i) out += fill;
  out += s;
  for (int64_t i = 0; i < total - left; ++i) out += fill;
  return out;
}

std::string py_strip(const std::string& s, const Value& chars, bool left, bool right) {
  const std::u32string u = u32(s);
  std::u32string set;
  const bool ws = chars.is_none() || chars.is_undefined();
  if (!ws) set = u32(require_string(chars, "strip"));
  auto strip_it = [&](char32_t c) { return ws ? py_isspace(c) : set.find(c) != std::u32string::npos; };
  size_t b = 0, e = u.size();
  if (left)
    while (b < e && strip_it(u[b])) ++b;
  if (right)
    while (e > b && strip_it(u[e - 1])) --e;
  return u8(u.substr(b, e - b));
}

}  // namespace rotor::jinja
