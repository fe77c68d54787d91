// tokenizer/jinja/builtins.cpp — filters, tests, string / list / dict methods and globals,
// each with the behaviour of Jinja2 3.1 and Python 3 (transformers' tojson for tojson).
#include "tokenizer/jinja/builtins.h"

#include <utf8proc.h>

#include <algorithm>
#include <cmath>
#include <ctime>
#include <map>
#include <set>

#include "core/check.h"
#include "tokenizer/jinja/interpreter.h"
#include "tokenizer/jinja/lexer.h"
#include "tokenizer/utf8.h"

namespace rotor::jinja {
namespace {

// ---- strings as code points ----

std::u32string u32(const std::string& s) {
  std::u32string out;
  size_t pos = 0;
  while (pos < s.size()) out.push_back(utf8::next(s, pos));
  return out;
}

std::string u8(const std::u32string& s) {
  std::string out;
  for (char32_t c : s) utf8::append(out, c);
  return out;
}

char32_t upper(char32_t c) { return static_cast<char32_t>(utf8proc_toupper(static_cast<utf8proc_int32_t>(c))); }
char32_t lower(char32_t c) { return static_cast<char32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(c))); }
char32_t title(char32_t c) { return static_cast<char32_t>(utf8proc_totitle(static_cast<utf8proc_int32_t>(c))); }
utf8proc_category_t category(char32_t c) { return utf8proc_category(static_cast<utf8proc_int32_t>(c)); }
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
std::vector<std::string> splitlines(const std::string& s, bool keepends = false) {
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

std::string require_string(const Value& v, const char* what) {
  if (v.is_string()) return v.as_string();
  if (v.is_undefined()) ROTOR_FAIL("{}", undefined_message(v));
  ROTOR_FAIL("{} expects a string, not {}", what, v.type_name());
}

// Python's int(x) of a float, within int64 (Python's would grow past it).
int64_t float_to_int(double d) {
  ROTOR_CHECK(!std::isnan(d), "cannot convert float NaN to integer");
  ROTOR_CHECK(!std::isinf(d), "cannot convert float infinity to integer");
  const double t = std::trunc(d);
  ROTOR_CHECK(t >= -0x1p63 && t < 0x1p63, "int of {} is past 64 bits", float_repr(d));
  return static_cast<int64_t>(t);
}

int64_t require_int(const Value& v, const char* what) {
  if (v.is_int()) return v.as_int();
  if (v.is_bool()) return v.as_bool();
  ROTOR_FAIL("{}: an integer is required, not {}", what, v.type_name());
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

Value string_method(const std::string& s, const std::string& name, CallArgs& a) {
  a.what = "str." + name + "()";
  if (name == "startswith" || name == "endswith") {
    a.expect({"prefix"});
    ROTOR_CHECK(!a.args.empty(), "{} takes at least 1 argument", a.what);
    return Value(affix(s, a.args[0], name == "startswith"));
  }
  if (name == "strip" || name == "lstrip" || name == "rstrip") {
    a.expect({"chars"});
    return Value(py_strip(s, a.get(0, "chars", Value::none()), name != "rstrip", name != "lstrip"));
  }
  if (name == "split" || name == "rsplit") {
    a.expect({"sep", "maxsplit"});
    return Value::list(py_split(s, a.get(0, "sep", Value::none()), require_int(a.get(1, "maxsplit", Value(int64_t{-1})), "maxsplit"),
                                name == "rsplit"));
  }
  if (name == "upper") return Value(map_chars(s, upper));
  if (name == "lower") return Value(map_chars(s, lower));
  if (name == "title") return Value(py_title(s));
  if (name == "capitalize") return Value(py_capitalize(s));
  if (name == "replace") {
    a.expect({"old", "new", "count"});
    const std::string from = require_string(a.get(0, "old"), "replace"), to = require_string(a.get(1, "new"), "replace");
    int64_t count = require_int(a.get(2, "count", Value(int64_t{-1})), "replace");
    std::string out;
    if (from.empty()) {
      const std::u32string u = u32(s);
      for (size_t i = 0; i <= u.size(); ++i) {
        if (count != 0) {
          out += to;
          --count;
        }
        if (i < u.size()) out += u8(u.substr(i, 1));
      }
      return Value(out);
    }
    size_t start = 0;
    for (size_t p = s.find(from); p != std::string::npos && count != 0; p = s.find(from, start), --count) {
      out += s.substr(start, p - start) + to;
      start = p + from.size();
    }
    return Value(out + s.substr(start));
  }
  if (name == "find" || name == "rfind" || name == "index" || name == "rindex") {
    const int64_t r = py_find(s, require_string(a.get(0, "sub"), name.c_str()), name[0] == 'r');
    ROTOR_CHECK(r >= 0 || name.ends_with("find"), "substring not found");
    return Value(r);
  }
  if (name == "count") {
    const std::string sub = require_string(a.get(0, "sub"), "count");
    if (sub.empty()) return Value(*Value(s).length() + 1);
    int64_t n = 0;
    for (size_t p = s.find(sub); p != std::string::npos; p = s.find(sub, p + sub.size())) ++n;
    return Value(n);
  }
  if (name == "join") {
    std::string out;
    bool first = true;
    for (const Value& v : iterate(a.get(0, "iterable"))) {
      if (!first) out += s;
      out += require_string(v, "join");
      first = false;
    }
    return Value(out);
  }
  if (name == "splitlines") {
    std::vector<Value> out;
    for (std::string& l : splitlines(s, a.get(0, "keepends", Value(false)).truthy())) out.emplace_back(std::move(l));
    return Value::list(std::move(out));
  }
  if (name == "format") return Value(py_format(s, a));
  if (name == "center" || name == "ljust" || name == "rjust") {
    const std::string fill = a.has(1, "fillchar") ? require_string(a.get(1, "fillchar"), name.c_str()) : " ";
    return Value(pad(s, require_int(a.get(0, "width"), name.c_str()), fill, name == "ljust" ? -1 : name == "rjust" ? 1 : 0));
  }
  if (name == "zfill") {
    const int64_t width = require_int(a.get(0, "width"), "zfill");
    const bool sign = !s.empty() && (s[0] == '-' || s[0] == '+');
    const auto len = *Value(s).length();
    if (width <= len) return Value(s);
    check_string_size(static_cast<uint64_t>(width - len) > kMaxStringBytes ? kMaxStringBytes + 1
                                                                            : s.size() + static_cast<uint64_t>(width - len));
    return Value(s.substr(0, sign ? 1 : 0) + std::string(static_cast<size_t>(width - len), '0') + s.substr(sign ? 1 : 0));
  }
  const std::u32string u = u32(s);
  auto all = [&](auto pred) { return !u.empty() && std::all_of(u.begin(), u.end(), pred); };
  if (name == "isdigit" || name == "isdecimal" || name == "isnumeric") return Value(all(is_digit));
  if (name == "isalpha") return Value(all(is_alpha));
  if (name == "isalnum") return Value(all([](char32_t c) { return is_alpha(c) || is_digit(c); }));
  if (name == "isspace") return Value(all(py_isspace));
  if (name == "islower" || name == "isupper") {
    bool cased = false;
    for (char32_t c : u) {
      if (!is_cased(c)) continue;
      cased = true;
      if (name == "islower" ? lower(c) != c : upper(c) != c) return Value(false);
    }
    return Value(cased);
  }
  ROTOR_FAIL("'str' object has no method '{}'", name);
}

const std::set<std::string>& string_methods() {
  static const std::set<std::string> m = {
      "startswith", "endswith", "strip",   "lstrip",  "rstrip", "split",     "rsplit",    "upper",     "lower",
      "title",      "capitalize", "replace", "find",   "rfind",  "index",     "rindex",    "count",     "join",
      "splitlines", "format",   "center",  "ljust",   "rjust",  "zfill",     "isdigit",   "isdecimal", "isnumeric",
      "isalpha",    "isalnum",  "isspace", "islower", "isupper"};
  return m;
}
const std::set<std::string>& dict_methods() {
  static const std::set<std::string> m = {"get", "items", "keys", "values", "copy"};
  return m;
}
const std::set<std::string>& list_methods() {
  static const std::set<std::string> m = {"count", "index", "copy"};
  return m;
}

Value dict_method(const Value& d, const std::string& name, CallArgs& a) {
  a.what = "dict." + name + "()";
  if (name == "get") {
    a.expect({"key", "default"});
    const Value key = a.get(0, "key");
    const Value* v = key.is_string() ? d.as_dict().find(key.as_string()) : nullptr;
    return v ? *v : a.get(1, "default", Value::none());
  }
  a.expect({});
  List out;
  for (const auto& [k, v] : d.as_dict().items) {
    if (name == "items") out.push_back(Value::list({Value(k), v}, true));
    else if (name == "keys") out.emplace_back(k);
    else if (name == "values") out.push_back(v);
  }
  if (name == "copy") return Value::dict(d.as_dict());
  return Value::list(std::move(out));
}

Value list_method(const Value& l, const std::string& name, CallArgs& a) {
  a.what = "list." + name + "()";
  if (name == "copy") return Value::list(l.as_list(), l.is_tuple());
  const Value x = a.get(0, "value");
  int64_t n = 0;
  for (size_t i = 0; i < l.as_list().size(); ++i) {
    if (!equals(l.as_list()[i], x)) continue;
    if (name == "index") return Value(static_cast<int64_t>(i));
    ++n;
  }
  ROTOR_CHECK(name == "count", "{} is not in list", x.repr());
  return Value(n);
}

// ---- filters ----

std::string lower_key(const Value& v, bool case_sensitive) {
  return v.is_string() && !case_sensitive ? map_chars(v.as_string(), lower) : std::string();
}

// A sort key: the value itself, or its lower-cased string when not case-sensitive.
Value sort_key(Interpreter& in, const Value& v, const Value& attribute, bool case_sensitive) {
  Value k = v;
  if (!attribute.is_none() && !attribute.is_undefined()) {
    for (const Value& part : py_split(attribute.str(), Value("."), -1, false)) {
      const std::string p = part.as_string();
      const bool digits = !p.empty() && std::all_of(p.begin(), p.end(), [](char c) { return c >= '0' && c <= '9'; });
      const size_t index = digits && p.size() < 10 ? std::stoul(p) : SIZE_MAX;
      k = digits && k.is_list() ? (index < k.as_list().size() ? k.as_list()[index] : Value())
                                : in.get_attr(k, p);
    }
  }
  if (k.is_string() && !case_sensitive) return Value(lower_key(k, false));
  return k;
}

void sort_values(std::vector<std::pair<Value, Value>>& keyed, bool reverse) {
  std::stable_sort(keyed.begin(), keyed.end(), [&](const auto& x, const auto& y) {
    const auto c = reverse ? compare(y.first, x.first) : compare(x.first, y.first);
    ROTOR_CHECK(c.has_value(), "'<' not supported between instances of '{}' and '{}'", x.first.type_name(),
                y.first.type_name());
    return *c < 0;
  });
}

Value f_abs(Interpreter&, const Value& v, CallArgs&) {
  ROTOR_CHECK(v.is_number() || v.is_bool(), "bad operand type for abs(): '{}'", v.type_name());
  if (v.is_float()) return Value(std::fabs(v.as_double()));
  const int64_t i = v.is_bool() ? v.as_bool() : v.as_int();
  if (i == INT64_MIN) return Value(-v.as_double());  // 2**63, past int64
  return Value(i < 0 ? -i : i);
}
Value f_attr(Interpreter& in, const Value& v, CallArgs& a) {
  a.expect({"name"});
  const std::string n = require_string(a.get(0, "name"), "attr");
  if (v.is_dict() && !v.is_namespace()) return method_value(v, n);
  return in.get_attr(v, n);
}
Value f_capitalize(Interpreter&, const Value& v, CallArgs&) { return Value(py_capitalize(v.str())); }
Value f_center(Interpreter&, const Value& v, CallArgs& a) {
  a.expect({"width"});
  return Value(pad(v.str(), require_int(a.get(0, "width", Value(int64_t{80})), "center"), " ", 0));
}
Value f_length(Interpreter&, const Value& v, CallArgs&) {
  const auto n = v.length();
  ROTOR_CHECK(n.has_value(), "object of type '{}' has no len()", v.type_name());
  return Value(*n);
}
Value f_default(Interpreter&, const Value& v, CallArgs& a) {
  a.expect({"default_value", "boolean"});
  const bool boolean = a.get(1, "boolean", Value(false)).truthy();
  if (v.is_undefined() || (boolean && !v.truthy())) return a.get(0, "default_value", Value(""));
  return v;
}
Value f_dictsort(Interpreter& in, const Value& v, CallArgs& a) {
  a.expect({"case_sensitive", "by", "reverse"});
  ROTOR_CHECK(v.is_dict(), "dictsort expects a dict, not {}", v.type_name());
  const bool cs = a.get(0, "case_sensitive", Value(false)).truthy();
  const std::string by = a.get(1, "by", Value("key")).str();
  ROTOR_CHECK(by == "key" || by == "value", "You can only sort by either 'key' or 'value'");
  std::vector<std::pair<Value, Value>> keyed;
  for (const auto& [k, val] : v.as_dict().items)
    keyed.emplace_back(sort_key(in, by == "key" ? Value(k) : val, Value(), cs), Value::list({Value(k), val}, true));
  sort_values(keyed, a.get(2, "reverse", Value(false)).truthy());
  List out;
  for (auto& kv : keyed) out.push_back(std::move(kv.second));
  return Value::list(std::move(out));
}
Value f_escape(Interpreter&, const Value& v, CallArgs&) {
  std::string out;
  for (char c : v.str()) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&#34;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return Value(out);
}
Value f_first(Interpreter&, const Value& v, CallArgs&) {
  const auto items = iterate(v);
  return items.empty() ? Value::undefined("No first item, sequence was empty.") : items.front();
}
Value f_last(Interpreter&, const Value& v, CallArgs&) {
  const auto items = iterate(v);
  return items.empty() ? Value::undefined("No last item, sequence was empty.") : items.back();
}
Value f_float(Interpreter&, const Value& v, CallArgs& a) {
  a.expect({"default"});
  if (v.is_number() || v.is_bool()) return Value(v.as_double());
  if (v.is_string()) {
    try {
      size_t used = 0;
      const std::string s = py_strip(v.as_string(), Value::none(), true, true);
      const double d = std::stod(s, &used);
      if (used == s.size()) return Value(d);
    } catch (const std::exception&) {
    }
  }
  return a.get(0, "default", Value(0.0));
}
Value f_int(Interpreter&, const Value& v, CallArgs& a) {
  a.expect({"default", "base"});
  if (v.is_int()) return v;
  if (v.is_bool()) return Value(static_cast<int64_t>(v.as_bool()));
  if (v.is_float()) return Value(float_to_int(v.as_double()));
  if (v.is_string()) {
    const std::string s = py_strip(v.as_string(), Value::none(), true, true);
    try {
      size_t used = 0;
      const long long n = std::stoll(s, &used, static_cast<int>(require_int(a.get(1, "base", Value(int64_t{10})), "int")));
      if (used == s.size()) return Value(static_cast<int64_t>(n));
    } catch (const std::exception&) {
    }
    std::optional<double> d;
    try {
      size_t used = 0;
      const double x = std::stod(s, &used);
      if (used == s.size()) d = x;
    } catch (const std::exception&) {
    }
    if (d && !std::isnan(*d)) return Value(float_to_int(*d));  // int(float('nan')) is jinja's ValueError: the default
  }
  return a.get(0, "default", Value(int64_t{0}));
}
Value f_format(Interpreter&, const Value& v, CallArgs& a) {
  ROTOR_CHECK(a.kwargs.empty() || a.args.empty(), "can't handle positional and keyword arguments at the same time");
  return binary_op("%", Value(v.str()), Value::list(a.args, true));
}
Value f_indent(Interpreter&, const Value& v, CallArgs& a) {
  a.expect({"width", "first", "blank"});
  const Value w = a.get(0, "width", Value(int64_t{4}));
  const int64_t width = w.is_string() ? 0 : require_int(w, "indent");
  check_string_size(static_cast<uint64_t>(std::max<int64_t>(width, 0)));
  const std::string ind = w.is_string() ? w.as_string() : std::string(static_cast<size_t>(std::max<int64_t>(width, 0)), ' ');
  const bool first = a.get(1, "first", Value(false)).truthy(), blank = a.get(2, "blank", Value(false)).truthy();
  const std::vector<std::string> lines = splitlines(v.str() + "\n");
  std::string rv;
  if (blank) {
    for (size_t i = 0; i < lines.size(); ++i) rv += (i ? "\n" + ind : "") + lines[i];
  } else {
    rv = lines.empty() ? "" : lines[0];
    for (size_t i = 1; i < lines.size(); ++i) rv += "\n" + (lines[i].empty() ? lines[i] : ind + lines[i]);
  }
  return Value(first ? ind + rv : rv);
}
Value f_items(Interpreter&, const Value& v, CallArgs& a) {
  if (v.is_undefined()) return Value::list({});
  ROTOR_CHECK(v.is_dict(), "can only get item pairs from a mapping, not {}", v.type_name());
  return dict_method(v, "items", a);
}
Value f_join(Interpreter& in, const Value& v, CallArgs& a) {
  a.expect({"d", "attribute"});
  const std::string sep = a.get(0, "d", Value("")).str();
  const Value attr = a.get(1, "attribute", Value::none());
  std::string out;
  bool first = true;
  for (const Value& item : iterate(v)) {
    out += (first ? "" : sep) + (attr.is_none() ? item : sort_key(in, item, attr, true)).str();
    first = false;
  }
  return Value(out);
}
Value f_list(Interpreter&, const Value& v, CallArgs&) { return Value::list(iterate(v)); }
Value f_lower(Interpreter&, const Value& v, CallArgs&) { return Value(map_chars(v.str(), lower)); }
Value f_upper(Interpreter&, const Value& v, CallArgs&) { return Value(map_chars(v.str(), upper)); }
Value f_title(Interpreter&, const Value& v, CallArgs&) { return Value(py_title(v.str())); }
Value f_map(Interpreter& in, const Value& v, CallArgs& a) {
  List out;
  const std::vector<Value> items = iterate(v);
  if (a.has(SIZE_MAX, "attribute")) {
    const Value attr = a.get(SIZE_MAX, "attribute"), def = a.get(SIZE_MAX, "default");
    for (const Value& item : items) {
      Value r = sort_key(in, item, attr, true);
      out.push_back(r.is_undefined() && a.has(SIZE_MAX, "default") ? def : r);
    }
    return Value::list(std::move(out));
  }
  ROTOR_CHECK(!a.args.empty(), "map requires a filter argument");
  const std::string filter = require_string(a.args[0], "map");
  CallArgs rest;
  rest.args.assign(a.args.begin() + 1, a.args.end());
  rest.kwargs = a.kwargs;
  for (const Value& item : items) {
    CallArgs copy = rest;
    out.push_back(in.apply_filter(filter, item, copy));
  }
  return Value::list(std::move(out));
}
Value min_max(Interpreter& in, const Value& v, CallArgs& a, bool want_max) {
  a.expect({"case_sensitive", "attribute"});
  const bool cs = a.get(0, "case_sensitive", Value(false)).truthy();
  const Value attr = a.get(1, "attribute", Value::none());
  std::vector<std::pair<Value, Value>> keyed;
  for (const Value& item : iterate(v)) keyed.emplace_back(sort_key(in, item, attr, cs), item);
  if (keyed.empty()) return Value::undefined(std::string("No aggregated item, sequence was empty."));
  size_t best = 0;
  for (size_t i = 1; i < keyed.size(); ++i) {
    const auto c = compare(keyed[i].first, keyed[best].first);
    ROTOR_CHECK(c.has_value(), "values of types '{}' and '{}' cannot be compared", keyed[i].first.type_name(),
                keyed[best].first.type_name());
    if (want_max ? *c > 0 : *c < 0) best = i;
  }
  return keyed[best].second;
}
Value f_max(Interpreter& in, const Value& v, CallArgs& a) { return min_max(in, v, a, true); }
Value f_min(Interpreter& in, const Value& v, CallArgs& a) { return min_max(in, v, a, false); }
Value select_impl(Interpreter& in, const Value& v, CallArgs& a, bool attr_mode, bool keep) {
  List out;
  size_t k = 0;
  Value attr;
  if (attr_mode) {
    ROTOR_CHECK(!a.args.empty(), "{} requires an attribute name", a.what);
    attr = a.args[k++];
  }
  std::string test;
  if (k < a.args.size()) test = require_string(a.args[k++], "select");
  CallArgs rest;
  rest.args.assign(a.args.begin() + static_cast<std::ptrdiff_t>(k), a.args.end());
  rest.kwargs = a.kwargs;
  for (const Value& item : iterate(v)) {
    const Value subject = attr_mode ? sort_key(in, item, attr, true) : item;
    CallArgs copy = rest;
    const bool pass = test.empty() ? subject.truthy() : in.apply_test(test, subject, copy);
    if (pass == keep) out.push_back(item);
  }
  return Value::list(std::move(out));
}
Value f_select(Interpreter& in, const Value& v, CallArgs& a) { return select_impl(in, v, a, false, true); }
Value f_reject(Interpreter& in, const Value& v, CallArgs& a) { return select_impl(in, v, a, false, false); }
Value f_selectattr(Interpreter& in, const Value& v, CallArgs& a) { return select_impl(in, v, a, true, true); }
Value f_rejectattr(Interpreter& in, const Value& v, CallArgs& a) { return select_impl(in, v, a, true, false); }
Value f_replace(Interpreter&, const Value& v, CallArgs& a) {
  a.expect({"old", "new", "count"});
  CallArgs b = a;
  if (b.args.size() > 2 && b.args[2].is_none()) b.args.resize(2);
  return string_method(v.str(), "replace", b);
}
Value f_reverse(Interpreter&, const Value& v, CallArgs&) {
  if (v.is_string()) {
    std::u32string u = u32(v.as_string());
    std::reverse(u.begin(), u.end());
    return Value(u8(u));
  }
  std::vector<Value> items = iterate(v);
  std::reverse(items.begin(), items.end());
  return Value::list(std::move(items));
}
Value f_round(Interpreter&, const Value& v, CallArgs& a) {
  a.expect({"precision", "method"});
  const int64_t precision = require_int(a.get(0, "precision", Value(int64_t{0})), "round");
  const std::string method = a.get(1, "method", Value("common")).str();
  ROTOR_CHECK(method == "common" || method == "ceil" || method == "floor", "method must be common, ceil or floor");
  ROTOR_CHECK(v.is_number() || v.is_bool(), "round expects a number, not {}", v.type_name());
  const double scale = std::pow(10.0, static_cast<double>(precision));
  const double x = v.as_double() * scale;
  const double r = method == "ceil" ? std::ceil(x) : method == "floor" ? std::floor(x) : std::nearbyint(x);  // half to even, as Python
  return Value(r / scale);
}
Value f_safe(Interpreter&, const Value& v, CallArgs&) { return v; }
Value f_sort(Interpreter& in, const Value& v, CallArgs& a) {
  a.expect({"reverse", "case_sensitive", "attribute"});
  const bool reverse = a.get(0, "reverse", Value(false)).truthy(), cs = a.get(1, "case_sensitive", Value(false)).truthy();
  const Value attr = a.get(2, "attribute", Value::none());
  std::vector<std::pair<Value, Value>> keyed;
  for (const Value& item : iterate(v)) keyed.emplace_back(sort_key(in, item, attr, cs), item);
  sort_values(keyed, reverse);
  List out;
  for (auto& kv : keyed) out.push_back(std::move(kv.second));
  return Value::list(std::move(out));
}
Value f_string(Interpreter&, const Value& v, CallArgs&) { return Value(v.str()); }
Value f_sum(Interpreter& in, const Value& v, CallArgs& a) {
  a.expect({"attribute", "start"});
  const Value attr = a.get(0, "attribute", Value::none());
  Value total = a.get(1, "start", Value(int64_t{0}));
  for (const Value& item : iterate(v)) total = binary_op("+", total, attr.is_none() ? item : sort_key(in, item, attr, true));
  return total;
}
// transformers' tojson: json.dumps(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False).
Value f_tojson(Interpreter&, const Value& v, CallArgs& a) {
  a.expect({"ensure_ascii", "indent", "separators", "sort_keys"});
  const bool ensure_ascii = a.get(0, "ensure_ascii", Value(false)).truthy();
  const Value indent = a.get(1, "indent", Value::none());
  const Value seps = a.get(2, "separators", Value::none());
  std::string item_sep, key_sep;
  if (!seps.is_none()) {
    ROTOR_CHECK(seps.is_list() && seps.as_list().size() == 2, "tojson: separators must be a pair of strings");
    item_sep = require_string(seps.as_list()[0], "tojson separators");
    key_sep = require_string(seps.as_list()[1], "tojson separators");
  }
  const int64_t ind64 = indent.is_none() ? -1 : require_int(indent, "tojson indent");
  check_string_size(static_cast<uint64_t>(std::max<int64_t>(ind64, 0)));
  const int ind = static_cast<int>(std::max<int64_t>(ind64, -1));
  std::string out = v.to_json(ind, item_sep, key_sep, a.get(3, "sort_keys", Value(false)).truthy());
  if (!ensure_ascii) return Value(out);
  std::string esc;
  size_t pos = 0;
  char buf[16];
  while (pos < out.size()) {
    const char32_t c = utf8::next(out, pos);
    if (c < 0x80) {
      esc += static_cast<char>(c);
    } else if (c < 0x10000) {
      std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(c));
      esc += buf;
    } else {
      const char32_t u = c - 0x10000;
      std::snprintf(buf, sizeof buf, "\\u%04x\\u%04x", static_cast<unsigned>(0xD800 + (u >> 10)),
                    static_cast<unsigned>(0xDC00 + (u & 0x3FF)));
      esc += buf;
    }
  }
  return Value(esc);
}
Value f_trim(Interpreter&, const Value& v, CallArgs& a) {
  a.expect({"chars"});
  return Value(py_strip(v.str(), a.get(0, "chars", Value::none()), true, true));
}
Value f_unique(Interpreter& in, const Value& v, CallArgs& a) {
  a.expect({"case_sensitive", "attribute"});
  const bool cs = a.get(0, "case_sensitive", Value(false)).truthy();
  const Value attr = a.get(1, "attribute", Value::none());
  List out, seen;
  for (const Value& item : iterate(v)) {
    const Value k = sort_key(in, item, attr, cs);
    if (std::any_of(seen.begin(), seen.end(), [&](const Value& s) { return equals(s, k); })) continue;
    seen.push_back(k);
    out.push_back(item);
  }
  return Value::list(std::move(out));
}
Value f_wordcount(Interpreter&, const Value& v, CallArgs&) {
  return Value(static_cast<int64_t>(py_split(v.str(), Value::none(), -1, false).size()));
}

const std::map<std::string, FilterFn, std::less<>>& filters() {
  static const std::map<std::string, FilterFn, std::less<>> f = {
      {"abs", f_abs},         {"attr", f_attr},           {"capitalize", f_capitalize}, {"center", f_center},
      {"count", f_length},    {"d", f_default},           {"default", f_default},       {"dictsort", f_dictsort},
      {"e", f_escape},        {"escape", f_escape},       {"first", f_first},           {"float", f_float},
      {"format", f_format},   {"indent", f_indent},       {"int", f_int},               {"items", f_items},
      {"join", f_join},       {"last", f_last},           {"length", f_length},         {"list", f_list},
      {"lower", f_lower},     {"map", f_map},             {"max", f_max},               {"min", f_min},
      {"reject", f_reject},   {"rejectattr", f_rejectattr}, {"replace", f_replace},     {"reverse", f_reverse},
      {"round", f_round},     {"safe", f_safe},           {"select", f_select},         {"selectattr", f_selectattr},
      {"sort", f_sort},       {"string", f_string},       {"sum", f_sum},               {"title", f_title},
      {"tojson", f_tojson},   {"trim", f_trim},           {"unique", f_unique},         {"upper", f_upper},
      {"wordcount", f_wordcount}};
  return f;
}

// ---- tests ----

bool compare_test(const Value& v, CallArgs& a, const char* op) {
  const Value other = a.get(0, "other");
  if (std::string_view(op) == "==") return equals(v, other);
  if (std::string_view(op) == "!=") return !equals(v, other);
  const auto c = compare(v, other);
  ROTOR_CHECK(c.has_value(), "'{}' not supported between instances of '{}' and '{}'", op, v.type_name(), other.type_name());
  const std::string_view o(op);
  return o == "<" ? *c < 0 : o == "<=" ? *c <= 0 : o == ">" ? *c > 0 : *c >= 0;
}

const std::map<std::string, TestFn, std::less<>>& tests() {
  static const std::map<std::string, TestFn, std::less<>> t = {
      {"defined", [](Interpreter&, const Value& v, CallArgs&) { return !v.is_undefined(); }},
      {"undefined", [](Interpreter&, const Value& v, CallArgs&) { return v.is_undefined(); }},
      {"none", [](Interpreter&, const Value& v, CallArgs&) { return v.is_none(); }},
      {"boolean", [](Interpreter&, const Value& v, CallArgs&) { return v.is_bool(); }},
      {"true", [](Interpreter&, const Value& v, CallArgs&) { return v.is_bool() && v.as_bool(); }},
      {"false", [](Interpreter&, const Value& v, CallArgs&) { return v.is_bool() && !v.as_bool(); }},
      {"integer", [](Interpreter&, const Value& v, CallArgs&) { return v.is_int(); }},
      {"float", [](Interpreter&, const Value& v, CallArgs&) { return v.is_float(); }},
      {"number", [](Interpreter&, const Value& v, CallArgs&) { return v.is_number() || v.is_bool(); }},
      {"string", [](Interpreter&, const Value& v, CallArgs&) { return v.is_string(); }},
      {"mapping", [](Interpreter&, const Value& v, CallArgs&) { return v.is_dict() && !v.is_namespace(); }},
      {"iterable", [](Interpreter&, const Value& v, CallArgs&) {
         return v.is_undefined() || v.is_string() || v.is_list() || (v.is_dict() && !v.is_namespace());
       }},
      {"sequence", [](Interpreter&, const Value& v, CallArgs&) {
         return v.is_undefined() || v.is_string() || v.is_list() || (v.is_dict() && !v.is_namespace());
       }},
      {"callable", [](Interpreter&, const Value& v, CallArgs&) { return v.is_function(); }},
      {"escaped", [](Interpreter&, const Value&, CallArgs&) { return false; }},
      {"sameas", [](Interpreter&, const Value& v, CallArgs& a) {
         const Value o = a.get(0, "other");
         return (v.is_none() && o.is_none()) || (v.is_bool() && o.is_bool() && v.as_bool() == o.as_bool()) ||
                (v.type() == o.type() && !v.is_none() && !v.is_bool() && equals(v, o) && (v.is_int() || v.is_string()));
       }},
      {"even", [](Interpreter&, const Value& v, CallArgs&) { return require_int(v, "even") % 2 == 0; }},
      {"odd", [](Interpreter&, const Value& v, CallArgs&) { return require_int(v, "odd") % 2 != 0; }},
      {"divisibleby", [](Interpreter&, const Value& v, CallArgs& a) {
         const int64_t n = require_int(a.get(0, "num"), "divisibleby");
         ROTOR_CHECK(n != 0, "integer division or modulo by zero");
         return require_int(v, "divisibleby") % n == 0;
       }},
      {"eq", [](Interpreter&, const Value& v, CallArgs& a) { return compare_test(v, a, "=="); }},
      {"equalto", [](Interpreter&, const Value& v, CallArgs& a) { return compare_test(v, a, "=="); }},
      {"==", [](Interpreter&, const Value& v, CallArgs& a) { return compare_test(v, a, "=="); }},
      {"ne", [](Interpreter&, const Value& v, CallArgs& a) { return compare_test(v, a, "!="); }},
      {"!=", [](Interpreter&, const Value& v, CallArgs& a) { return compare_test(v, a, "!="); }},
      {"lt", [](Interpreter&, const Value& v, CallArgs& a) { return compare_test(v, a, "<"); }},
      {"lessthan", [](Interpreter&, const Value& v, CallArgs& a) { return compare_test(v, a, "<"); }},
      {"<", [](Interpreter&, const Value& v, CallArgs& a) { return compare_test(v, a, "<"); }},
      {"le", [](Interpreter&, const Value& v, CallArgs& a) { return compare_test(v, a, "<="); }},
      {"<=", [](Interpreter&, const Value& v, CallArgs& a) { return compare_test(v, a, "<="); }},
      {"gt", [](Interpreter&, const Value& v, CallArgs& a) { return compare_test(v, a, ">"); }},
      {"greaterthan", [](Interpreter&, const Value& v, CallArgs& a) { return compare_test(v, a, ">"); }},
      {">", [](Interpreter&, const Value& v, CallArgs& a) { return compare_test(v, a, ">"); }},
      {"ge", [](Interpreter&, const Value& v, CallArgs& a) { return compare_test(v, a, ">="); }},
      {">=", [](Interpreter&, const Value& v, CallArgs& a) { return compare_test(v, a, ">="); }},
      {"in", [](Interpreter&, const Value& v, CallArgs& a) {
         const Value seq = a.get(0, "seq");
         if (seq.is_string()) return v.is_string() && seq.as_string().find(v.as_string()) != std::string::npos;
         if (seq.is_dict()) return v.is_string() && seq.as_dict().find(v.as_string()) != nullptr;
         for (const Value& x : iterate(seq))
           if (equals(v, x)) return true;
         return false;
       }},
      {"lower", [](Interpreter&, const Value& v, CallArgs&) {
         CallArgs none;
         return v.is_string() && string_method(v.as_string(), "islower", none).as_bool();
       }},
      {"upper", [](Interpreter&, const Value& v, CallArgs&) {
         CallArgs none;
         return v.is_string() && string_method(v.as_string(), "isupper", none).as_bool();
       }},
      {"filter", [](Interpreter&, const Value& v, CallArgs&) { return v.is_string() && find_filter(v.as_string()); }},
      {"test", [](Interpreter&, const Value& v, CallArgs&) { return v.is_string() && find_test(v.as_string()); }},
  };
  return t;
}

// ---- globals ----

Value g_range(CallArgs& a) {
  ROTOR_CHECK(!a.args.empty() && a.args.size() <= 3 && a.kwargs.empty(), "range expected 1 to 3 integer arguments");
  int64_t start = 0, stop, step = 1;
  if (a.args.size() == 1) {
    stop = require_int(a.args[0], "range");
  } else {
    start = require_int(a.args[0], "range");
    stop = require_int(a.args[1], "range");
    if (a.args.size() == 3) step = require_int(a.args[2], "range");
  }
  ROTOR_CHECK(step != 0, "range() arg 3 must not be zero");
  List out;
  for (int64_t i = start; step > 0 ? i < stop : i > stop;) {
    ROTOR_CHECK(out.size() < 100000, "range too big (the sandbox allows 100000 items)");
    out.emplace_back(i);
    if (__builtin_add_overflow(i, step, &i)) break;  // the next item would be past int64: none is
  }
  return Value::list(std::move(out));
}

Value g_namespace(CallArgs& a) {
  Dict d;
  for (const Value& arg : a.args) {
    ROTOR_CHECK(arg.is_dict(), "namespace() takes a dict or keyword arguments");
    for (const auto& kv : arg.as_dict().items) d.set(kv.first, kv.second);
  }
  for (const auto& [k, v] : a.kwargs) d.set(k, v);
  return Value::namespace_of(std::move(d));
}

Value g_dict(CallArgs& a) {
  Dict d;
  for (const Value& arg : a.args) {
    ROTOR_CHECK(arg.is_dict(), "dict() takes a dict or keyword arguments");
    for (const auto& kv : arg.as_dict().items) d.set(kv.first, kv.second);
  }
  for (const auto& [k, v] : a.kwargs) d.set(k, v);
  return Value::dict(std::move(d));
}

Value g_raise_exception(CallArgs& a) { ROTOR_FAIL("{}", a.get(0, "message", Value("")).str()); }

Value g_strftime_now(CallArgs& a) {
  const std::string fmt = require_string(a.get(0, "format"), "strftime_now");
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  localtime_r(&now, &tm);
  char buf[512];
  const size_t n = std::strftime(buf, sizeof buf, fmt.c_str(), &tm);
  return Value(std::string(buf, n));
}

}  // namespace

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

FilterFn find_filter(std::string_view name) {
  const auto it = filters().find(name);
  return it == filters().end() ? nullptr : it->second;
}

TestFn find_test(std::string_view name) {
  const auto it = tests().find(name);
  return it == tests().end() ? nullptr : it->second;
}

bool is_global_function(std::string_view name) {
  return name == "range" || name == "namespace" || name == "dict" || name == "raise_exception" || name == "strftime_now";
}

bool is_method(std::string_view name) {
  const std::string n(name);
  return string_methods().count(n) || dict_methods().count(n) || list_methods().count(n) || n == "cycle";
}

bool is_unsafe_method(std::string_view name) {
  static const std::set<std::string, std::less<>> m = {"append", "extend", "insert", "pop",     "remove",   "clear",
                                                       "sort",   "reverse", "update", "setdefault", "popitem", "add",
                                                       "discard"};
  return m.count(name) > 0;
}

Value call_method(const Value& obj, const std::string& name, CallArgs& args) {
  if (obj.is_string() && string_methods().count(name)) return string_method(obj.as_string(), name, args);
  if (obj.is_dict() && !obj.is_namespace() && dict_methods().count(name)) return dict_method(obj, name, args);
  if (obj.is_list() && list_methods().count(name)) return list_method(obj, name, args);
  ROTOR_FAIL("'{}' object has no attribute '{}'", obj.type_name(), name);
}

Value method_value(const Value& obj, const std::string& name) {
  const bool ok = (obj.is_string() && string_methods().count(name)) ||
                  (obj.is_dict() && !obj.is_namespace() && dict_methods().count(name)) ||
                  (obj.is_list() && list_methods().count(name));
  if (!ok) return Value::undefined(no_attribute(obj, name));
  return Value::function(obj.type_name() + "." + name, [obj, name](CallArgs& a) { return call_method(obj, name, a); });
}

Value global_function(const std::string& name) {
  if (name == "range") return Value::function(name, g_range);
  if (name == "namespace") return Value::function(name, g_namespace);
  if (name == "dict") return Value::function(name, g_dict);
  if (name == "raise_exception") return Value::function(name, g_raise_exception);
  if (name == "strftime_now") return Value::function(name, g_strftime_now);
  return Value::undefined("'" + name + "' is undefined");
}

}  // namespace rotor::jinja
