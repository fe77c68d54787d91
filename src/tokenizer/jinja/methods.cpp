// tokenizer/jinja/methods.cpp — the str, list and dict methods a template may call
// (x.name(...)), with Python 3's behaviour, and the ones Hugging Face's sandbox refuses.
#include "tokenizer/jinja/methods.h"

#include <algorithm>
#include <set>

#include "core/check.h"
#include "tokenizer/jinja/arguments.h"
#include "tokenizer/jinja/builtins.h"
#include "tokenizer/jinja/operators.h"
#include "tokenizer/jinja/lexer.h"
#include "tokenizer/jinja/py_string.h"

namespace rotor::jinja {
namespace {

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

}  // namespace

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

}  // namespace rotor::jinja
