// tokenizer/jinja/value.cpp — Python semantics of Jinja values: truthiness, equality,
// ordering, str / repr, json.dumps, and JSON input.
#include "tokenizer/jinja/value.h"

#include <utf8proc.h>

#include <algorithm>
#include <charconv>
#include <cmath>

#include "core/check.h"
#include "tokenizer/utf8.h"

namespace rotor::jinja {
namespace {

// Python's str.isprintable() for one code point (repr escapes the others).
bool py_printable(char32_t c) {
  if (c == ' ') return true;
  switch (utf8proc_category(static_cast<utf8proc_int32_t>(c))) {
    case UTF8PROC_CATEGORY_CC: case UTF8PROC_CATEGORY_CF: case UTF8PROC_CATEGORY_CS:
    case UTF8PROC_CATEGORY_CO: case UTF8PROC_CATEGORY_CN: case UTF8PROC_CATEGORY_ZL:
    case UTF8PROC_CATEGORY_ZP: case UTF8PROC_CATEGORY_ZS:
      return false;
    default:
      return true;
  }
}

std::string hex(uint32_t v, int digits) {
  static const char* d = "0123456789abcdef";
  std::string s(static_cast<size_t>(digits), '0');
  for (int i = digits - 1; i >= 0; --i, v >>= 4) s[static_cast<size_t>(i)] = d[v & 15];
  return s;
}

std::string string_repr(const std::string& s) {
  const bool has_single = s.find('\'') != std::string::npos, has_double = s.find('"') != std::string::npos;
  const char q = has_single && !has_double ? '"' : '\'';
  std::string out(1, q);
  size_t pos = 0;
  while (pos < s.size()) {
    const char32_t c = utf8::next(s, pos);
    if (c == static_cast<char32_t>(q) || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (!py_printable(c)) {
      out += c < 0x100 ? "\\x" + hex(c, 2) : c < 0x10000 ? "\\u" + hex(c, 4) : "\\U" + hex(c, 8);
    } else {
      utf8::append(out, c);
    }
  }
  out += q;
  return out;
}

void json_string(const std::string& s, std::string& out) {
  out += '"';
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        if (c < 0x20) out += "\\u" + hex(c, 4);
        else out += ch;
    }
  }
  out += '"';
}

struct JsonStyle {
  int indent;  // < 0: one line
  std::string item_sep, key_sep;
  bool sort_keys;
};

void to_json_into(const Value& v, const JsonStyle& st, int depth, std::string& out) {
  auto newline = [&](int d) {
    check_string_size(out.size() + 1 + static_cast<uint64_t>(st.indent) * static_cast<uint64_t>(d));
    out += '\n';
    out.append(static_cast<size_t>(st.indent) * static_cast<size_t>(d), ' ');
  };
  switch (v.type()) {
    case Value::Type::None: out += "null"; return;
    case Value::Type::Bool: out += v.as_bool() ? "true" : "false"; return;
    case Value::Type::Int: out += std::to_string(v.as_int()); return;
    case Value::Type::Float: {
      const double f = v.as_double();
      out += std::isnan(f) ? "NaN" : std::isinf(f) ? (f > 0 ? "Infinity" : "-Infinity") : float_repr(f);
      return;
    }
    case Value::Type::String:
      json_string(v.as_string(), out);
      check_string_size(out.size());
      return;
    case Value::Type::List: {
      const List& l = v.as_list();
      if (l.empty()) {
        out += "[]";
        return;
      }
      out += '[';
      for (size_t i = 0; i < l.size(); ++i) {
        if (i) out += st.item_sep;
        if (st.indent >= 0) newline(depth + 1);
        to_json_into(l[i], st, depth + 1, out);
      }
      if (st.indent >= 0) newline(depth);
      out += ']';
      return;
    }
    case Value::Type::Dict: {
      if (v.is_namespace()) break;
      std::vector<const std::pair<std::string, Value>*> items;
      for (const auto& kv : v.as_dict().items) items.push_back(&kv);
      if (items.empty()) {
        out += "{}";
        return;
      }
      if (st.sort_keys) std::stable_sort(items.begin(), items.end(), [](auto* a, auto* b) { return a->first < b->first; });
      out += '{';
      for (size_t i = 0; i < items.size(); ++i) {
        if (i) out += st.item_sep;
        if (st.indent >= 0) newline(depth + 1);
        json_string(items[i]->first, out);
        out += st.key_sep;
        to_json_into(items[i]->second, st, depth + 1, out);
      }
      if (st.indent >= 0) newline(depth);
      out += '}';
      return;
    }
    default: break;
  }
  ROTOR_FAIL("Object of type {} is not JSON serializable", v.type_name());
}

}  // namespace

void check_string_size(uint64_t bytes) {
  ROTOR_CHECK(bytes <= kMaxStringBytes, "a string of more than {} MiB", kMaxStringBytes >> 20);
}

void check_list_size(uint64_t items) {
  ROTOR_CHECK(items <= kMaxListItems, "a list of more than {} items", kMaxListItems);
}

const Value* Dict::find(std::string_view key) const {
  for (const auto& kv : items)
    if (kv.first == key) return &kv.second;
  return nullptr;
}

Value* Dict::find(std::string_view key) {
  for (auto& kv : items)
    if (kv.first == key) return &kv.second;
  return nullptr;
}

void Dict::set(std::string key, Value v) {
  if (Value* old = find(key)) *old = std::move(v);
  else items.emplace_back(std::move(key), std::move(v));
}

Value Value::undefined(std::string hint) {
  Value v;
  v.name_ = std::move(hint);
  return v;
}

Value Value::none() {
  Value v;
  v.type_ = Type::None;
  return v;
}

Value::Value(bool b) : type_(Type::Bool), b_(b) {}
Value::Value(int64_t i) : type_(Type::Int), i_(i) {}
Value::Value(double f) : type_(Type::Float), f_(f) {}
Value::Value(std::string s) : type_(Type::String), s_(std::make_shared<const Text>(std::move(s))) {}

Value Value::list(List items, bool tuple) {
  Value v;
  v.type_ = Type::List;
  v.tuple_ = tuple;
  for (const Value& e : items) {
    v.depth_ = std::max(v.depth_, e.depth_);
    v.holds_namespace_ = v.holds_namespace_ || e.holds_namespace_;
  }
  ROTOR_CHECK(++v.depth_ <= kMaxNesting, "a value nested more than {} levels deep", kMaxNesting);
  v.list_ = std::make_shared<const List>(std::move(items));
  return v;
}

Value Value::dict(Dict d) {
  Value v;
  v.type_ = Type::Dict;
  for (const auto& kv : d.items) {
    v.depth_ = std::max(v.depth_, kv.second.depth_);
    v.holds_namespace_ = v.holds_namespace_ || kv.second.holds_namespace_;
  }
  ROTOR_CHECK(++v.depth_ <= kMaxNesting, "a value nested more than {} levels deep", kMaxNesting);
  v.dict_ = std::make_shared<Dict>(std::move(d));
  return v;
}

Value Value::namespace_of(Dict d) {
  Value v = dict(std::move(d));
  ROTOR_CHECK(!v.holds_namespace_, "a namespace cannot hold a namespace");
  v.namespace_ = true;
  v.holds_namespace_ = true;
  return v;
}

Value Value::function(std::string name, Function f) {
  Value v;
  v.type_ = Type::Function;
  v.fn_ = std::make_shared<const Function>(std::move(f));
  v.name_ = std::move(name);
  return v;
}

Value Value::from_json(const nlohmann::ordered_json& j) { return from_json_within(j, kMaxNesting); }

Value Value::from_json_within(const nlohmann::ordered_json& j, int levels) {
  if (j.is_array() || j.is_object())
    ROTOR_CHECK(levels > 0, "a value nested more than {} levels deep", kMaxNesting);
  switch (j.type()) {
    case nlohmann::ordered_json::value_t::null: return none();
    case nlohmann::ordered_json::value_t::boolean: return Value(j.get<bool>());
    case nlohmann::ordered_json::value_t::number_integer: return Value(j.get<int64_t>());
    case nlohmann::ordered_json::value_t::number_unsigned: {
      const auto u = j.get<uint64_t>();
      return u <= static_cast<uint64_t>(INT64_MAX) ? Value(static_cast<int64_t>(u)) : Value(static_cast<double>(u));
    }
    case nlohmann::ordered_json::value_t::number_float: return Value(j.get<double>());
    case nlohmann::ordered_json::value_t::string: return Value(utf8::repair(j.get_ref<const std::string&>()));
    case nlohmann::ordered_json::value_t::array: {
      List l;
      l.reserve(j.size());
      for (const auto& e : j) l.push_back(from_json_within(e, levels - 1));
      return list(std::move(l));
    }
    case nlohmann::ordered_json::value_t::object: {
      Dict d;
      d.items.reserve(j.size());
      for (const auto& [k, e] : j.items()) d.items.emplace_back(utf8::repair(k), from_json_within(e, levels - 1));
      return dict(std::move(d));
    }
    default: return undefined();
  }
}

bool Value::truthy() const {
  switch (type_) {
    case Type::Undefined: case Type::None: return false;
    case Type::Bool: return b_;
    case Type::Int: return i_ != 0;
    case Type::Float: return f_ != 0.0;
    case Type::String: return !s_->bytes.empty();
    case Type::List: return !list_->empty();
    case Type::Dict: return namespace_ || !dict_->items.empty();
    case Type::Function: return true;
  }
  return false;
}

std::string Value::str() const {
  switch (type_) {
    case Type::Undefined: return "";
    case Type::String: return s_->bytes;
    default: return repr();
  }
}

std::string Value::repr() const {
  switch (type_) {
    case Type::Undefined: return "Undefined";
    case Type::None: return "None";
    case Type::Bool: return b_ ? "True" : "False";
    case Type::Int: return std::to_string(i_);
    case Type::Float: return std::isnan(f_) ? "nan" : std::isinf(f_) ? (f_ > 0 ? "inf" : "-inf") : float_repr(f_);
    case Type::String: return string_repr(s_->bytes);
    case Type::List: {
      std::string out = tuple_ ? "(" : "[";
      for (size_t i = 0; i < list_->size(); ++i) out += (i ? ", " : "") + (*list_)[i].repr();
      if (tuple_ && list_->size() == 1) out += ",";
      return out + (tuple_ ? ")" : "]");
    }
    case Type::Dict: {
      std::string out = "{";
      for (size_t i = 0; i < dict_->items.size(); ++i)
        out += (i ? ", " : "") + string_repr(dict_->items[i].first) + ": " + dict_->items[i].second.repr();
      out += "}";
      return namespace_ ? "<Namespace " + out + ">" : out;
    }
    case Type::Function: return "<function " + name_ + ">";
  }
  return "";
}

std::string Value::to_json(int indent, std::string item_sep, std::string key_sep, bool sort_keys) const {
  JsonStyle st{indent, std::move(item_sep), std::move(key_sep), sort_keys};
  if (st.item_sep.empty()) st.item_sep = indent >= 0 ? "," : ", ";
  if (st.key_sep.empty()) st.key_sep = ": ";
  std::string out;
  to_json_into(*this, st, 0, out);
  return out;
}

std::string Value::type_name() const {
  switch (type_) {
    case Type::Undefined: return "undefined";
    case Type::None: return "NoneType";
    case Type::Bool: return "bool";
    case Type::Int: return "int";
    case Type::Float: return "float";
    case Type::String: return "str";
    case Type::List: return tuple_ ? "tuple" : "list";
    case Type::Dict: return namespace_ ? "Namespace" : "dict";
    case Type::Function: return "function";
  }
  return "?";
}

std::optional<int64_t> Value::length() const {
  switch (type_) {
    case Type::Undefined: return 0;
    case Type::String: {
      int64_t n = s_->code_points.load(std::memory_order_relaxed);
      if (n >= 0) return n;
      n = 0;
      for (char c : s_->bytes) n += (static_cast<uint8_t>(c) & 0xC0) != 0x80;
      s_->code_points.store(n, std::memory_order_relaxed);
      return n;
    }
    case Type::List: return static_cast<int64_t>(list_->size());
    case Type::Dict: return namespace_ ? std::nullopt : std::optional<int64_t>(static_cast<int64_t>(dict_->items.size()));
    default: return std::nullopt;
  }
}

bool equals(const Value& a, const Value& b) {
  const auto numeric = [](const Value& v) { return v.is_number() || v.is_bool(); };
  if (numeric(a) && numeric(b)) {
    if (a.is_float() || b.is_float()) return a.as_double() == b.as_double();
    return (a.is_bool() ? a.as_bool() : a.as_int()) == (b.is_bool() ? b.as_bool() : b.as_int());
  }
  if (a.type() != b.type()) return false;
  switch (a.type()) {
    case Value::Type::Undefined: case Value::Type::None: return true;
    case Value::Type::String: return a.as_string() == b.as_string();
    case Value::Type::List: {
      if (a.is_tuple() != b.is_tuple() || a.as_list().size() != b.as_list().size()) return false;
      for (size_t i = 0; i < a.as_list().size(); ++i)
        if (!equals(a.as_list()[i], b.as_list()[i])) return false;
      return true;
    }
    case Value::Type::Dict: {
      if (a.is_namespace() || b.is_namespace()) return &a.as_dict() == &b.as_dict();
      if (a.as_dict().items.size() != b.as_dict().items.size()) return false;
      for (const auto& [k, v] : a.as_dict().items) {
        const Value* o = b.as_dict().find(k);
        if (!o || !equals(v, *o)) return false;
      }
      return true;
    }
    case Value::Type::Function: return &a.as_function() == &b.as_function();
    default: return false;
  }
}

std::optional<int> compare(const Value& a, const Value& b) {
  const auto numeric = [](const Value& v) { return v.is_number() || v.is_bool(); };
  if (numeric(a) && numeric(b)) {
    if (a.is_float() || b.is_float()) {
      const double x = a.as_double(), y = b.as_double();
      return x < y ? -1 : x > y ? 1 : 0;
    }
    const int64_t x = a.is_bool() ? a.as_bool() : a.as_int(), y = b.is_bool() ? b.as_bool() : b.as_int();
    return x < y ? -1 : x > y ? 1 : 0;
  }
  if (a.is_string() && b.is_string()) {
    const int c = a.as_string().compare(b.as_string());
    return c < 0 ? -1 : c > 0 ? 1 : 0;
  }
  if (a.is_list() && b.is_list() && a.is_tuple() == b.is_tuple()) {
    const List &x = a.as_list(), &y = b.as_list();
    for (size_t i = 0; i < x.size() && i < y.size(); ++i) {
      if (equals(x[i], y[i])) continue;
      return compare(x[i], y[i]);
    }
    return x.size() < y.size() ? -1 : x.size() > y.size() ? 1 : 0;
  }
  return std::nullopt;
}

std::string no_attribute(const Value& obj, const std::string& name) {
  return fmt::format("'{} object' has no attribute '{}'", obj.type_name(), name);
}

std::string float_repr(double v) {
  if (v == 0) return std::signbit(v) ? "-0.0" : "0.0";
  char buf[64];
  const auto res = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::scientific);
  const std::string s(buf, res.ptr);  // [-]d[.ddd]e±XX, shortest round trip
  const size_t e = s.find('e');
  const bool neg = s[0] == '-';
  std::string digits;
  for (size_t i = neg ? 1 : 0; i < e; ++i)
    if (s[i] != '.') digits += s[i];
  const int exp = std::stoi(s.substr(e + 1));
  std::string out = neg ? "-" : "";
  if (exp >= -4 && exp < 16) {
    if (exp >= 0) {
      std::string ip = digits.substr(0, std::min(digits.size(), static_cast<size_t>(exp) + 1));
      ip.append(static_cast<size_t>(exp) + 1 - ip.size(), '0');
      const std::string fp = digits.size() > static_cast<size_t>(exp) + 1 ? digits.substr(static_cast<size_t>(exp) + 1) : "0";
      out += ip + "." + fp;
    } else {
      out += "0." + std::string(static_cast<size_t>(-exp - 1), '0') + digits;
    }
  } else {
    out += digits.substr(0, 1);
    if (digits.size() > 1) out += "." + digits.substr(1);
    const int ae = std::abs(exp);
    out += std::string("e") + (exp < 0 ? "-" : "+") + (ae < 10 ? "0" : "") + std::to_string(ae);
  }
  return out;
}

Value CallArgs::get(size_t i, std::string_view name, Value fallback) const {
  if (i < args.size()) return args[i];
  for (const auto& [k, v] : kwargs)
    if (k == name) return v;
  return fallback;
}

bool CallArgs::has(size_t i, std::string_view name) const {
  if (i < args.size()) return true;
  for (const auto& kv : kwargs)
    if (kv.first == name) return true;
  return false;
}

void CallArgs::expect(std::initializer_list<std::string_view> names) const {
  if (args.size() > names.size()) ROTOR_FAIL("{} takes at most {} arguments ({} given)", what, names.size(), args.size());
  for (const auto& kv : kwargs)
    if (std::find(names.begin(), names.end(), kv.first) == names.end())
      ROTOR_FAIL("{} got an unexpected keyword argument '{}'", what, kv.first);
}

}  // namespace rotor::jinja
