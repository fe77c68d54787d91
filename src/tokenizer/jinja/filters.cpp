// tokenizer/jinja/filters.cpp — the filters a template may use (x | name(...)), each with the
// behaviour of Jinja2 3.1 (transformers' tojson for tojson).
#include <algorithm>
#include <cmath>
#include <map>

#include "core/check.h"
#include "tokenizer/jinja/arguments.h"
#include "tokenizer/jinja/builtins.h"
#include "tokenizer/jinja/interpreter.h"
#include "tokenizer/jinja/methods.h"
#include "tokenizer/jinja/operators.h"
#include "tokenizer/jinja/py_string.h"
#include "tokenizer/utf8.h"

namespace rotor::jinja {
namespace {

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
  if (i == INT64_MIN) integer_overflow(fmt::format("abs({})", i));  // 2**63
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

}  // namespace

FilterFn find_filter(std::string_view name) {
  const auto it = filters().find(name);
  return it == filters().end() ? nullptr : it->second;
}

}  // namespace rotor::jinja
