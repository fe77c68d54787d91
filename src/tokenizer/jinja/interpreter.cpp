// tokenizer/jinja/interpreter.cpp — statement execution and expression evaluation.
#include "tokenizer/jinja/interpreter.h"

#include <algorithm>
#include <cmath>

#include "core/check.h"
#include "tokenizer/jinja/builtins.h"
#include "tokenizer/one_line.h"
#include "tokenizer/utf8.h"

namespace rotor::jinja {
namespace {

constexpr int kMaxMacroDepth = 100;

// Code points of a string (Python indexes and slices strings by code point).
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

int64_t floor_div(int64_t a, int64_t b) {
  const int64_t q = a / b;
  return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

// Python's % string formatting for the common conversions (%s %r %d %i %f %x %%).
std::string percent_format(const std::string& fmt, const Value& arg) {
  std::vector<Value> args = arg.is_tuple() ? arg.as_list() : std::vector<Value>{arg};
  std::string out;
  size_t k = 0;
  for (size_t i = 0; i < fmt.size(); ++i) {
    if (fmt[i] != '%') {
      out += fmt[i];
      continue;
    }
    ROTOR_CHECK(i + 1 < fmt.size(), "incomplete format");
    size_t j = i + 1;
    std::string spec;
    while (j < fmt.size() && std::string_view("-+ 0#.123456789").find(fmt[j]) != std::string_view::npos) spec += fmt[j++];
    ROTOR_CHECK(j < fmt.size(), "incomplete format");
    const char conv = fmt[j];
    i = j;
    if (conv == '%') {
      out += '%';
      continue;
    }
    ROTOR_CHECK(k < args.size(), "not enough arguments for format string");
    const Value& v = args[k++];
    // Width and precision bound the text: at most each plus a number's own digits.
    uint64_t room = 400;
    for (size_t at = 0; at < spec.size();) {
      uint64_t n = 0;
      for (; at < spec.size() && spec[at] >= '0' && spec[at] <= '9'; ++at) n = std::min<uint64_t>(n * 10 + (spec[at] - '0'), kMaxStringBytes + 1);
      room += n;
      if (at < spec.size() && (spec[at] < '0' || spec[at] > '9')) ++at;
    }
    check_string_size(out.size() + room);
    auto print = [&](const std::string& f, auto x) {
      std::string buf(static_cast<size_t>(room), '\0');
      const int len = std::snprintf(buf.data(), buf.size(), f.c_str(), x);
      ROTOR_CHECK(len >= 0 && static_cast<size_t>(len) < buf.size(), "format '{}' failed", f);
      out.append(buf.data(), static_cast<size_t>(len));
    };
    switch (conv) {
      case 's': out += v.str(); break;
      case 'r': out += v.repr(); break;
      case 'd': case 'i': case 'x': case 'X': case 'o': {
        ROTOR_CHECK(v.is_number() || v.is_bool(), "%{} format: a number is required, not {}", conv, v.type_name());
        const double t = std::trunc(v.as_double());
        ROTOR_CHECK(!v.is_float() || (t >= -0x1p63 && t < 0x1p63), "%{} format: {} is past 64 bits", conv, v.repr());
        const long long n = v.is_float() ? static_cast<long long>(t) : v.is_bool() ? v.as_bool() : v.as_int();
        print("%" + spec + "ll" + (conv == 'i' ? 'd' : conv), n);
        break;
      }
      case 'f': case 'F': case 'e': case 'E': case 'g': case 'G': {
        ROTOR_CHECK(v.is_number() || v.is_bool(), "%{} format: a number is required, not {}", conv, v.type_name());
        print("%" + spec + conv, v.as_double());
        break;
      }
      default: ROTOR_FAIL("unsupported format character '{}'", std::string(1, conv));
    }
  }
  ROTOR_CHECK(k == args.size(), "not all arguments converted during string formatting");
  return out;
}

}  // namespace

std::string undefined_message(const Value& v) { return v.name().empty() ? "undefined value" : v.name(); }

std::vector<Value> iterate(const Value& v) {
  switch (v.type()) {
    case Value::Type::Undefined: return {};
    case Value::Type::List: return v.as_list();
    case Value::Type::String: {
      check_list_size(static_cast<uint64_t>(*v.length()));
      std::vector<Value> out;
      for (std::string_view c : chars_of(v.as_string())) out.emplace_back(std::string(c));
      return out;
    }
    case Value::Type::Dict: {
      ROTOR_CHECK(!v.is_namespace(), "'Namespace' object is not iterable");
      std::vector<Value> out;
      for (const auto& kv : v.as_dict().items) out.emplace_back(kv.first);
      return out;
    }
    default: ROTOR_FAIL("'{}' object is not iterable", v.type_name());
  }
}

Value binary_op(const std::string& op, const Value& a, const Value& b) {
  const auto numeric = [](const Value& v) { return v.is_number() || v.is_bool(); };
  const auto as_i = [](const Value& v) { return v.is_bool() ? static_cast<int64_t>(v.as_bool()) : v.as_int(); };
  auto type_error = [&]() -> Value {
    ROTOR_FAIL("unsupported operand type(s) for {}: '{}' and '{}'", op, a.type_name(), b.type_name());
  };
  if (a.is_undefined() || b.is_undefined()) ROTOR_FAIL("{}", undefined_message(a.is_undefined() ? a : b));
  if (numeric(a) && numeric(b)) {
    const bool ints = !a.is_float() && !b.is_float();
    const int64_t x = ints ? as_i(a) : 0, y = ints ? as_i(b) : 0;
    const double fx = a.as_double(), fy = b.as_double();
    int64_t r = 0;
    if (op == "+") return ints ? (__builtin_add_overflow(x, y, &r) ? Value(fx + fy) : Value(r)) : Value(fx + fy);
    if (op == "-") return ints ? (__builtin_sub_overflow(x, y, &r) ? Value(fx - fy) : Value(r)) : Value(fx - fy);
    if (op == "*") return ints ? (__builtin_mul_overflow(x, y, &r) ? Value(fx * fy) : Value(r)) : Value(fx * fy);
    if (op == "/") {
      ROTOR_CHECK(fy != 0, "division by zero");
      return Value(fx / fy);
    }
    if (op == "//") {
      ROTOR_CHECK(fy != 0, "integer division or modulo by zero");
      if (ints && x == INT64_MIN && y == -1) return Value(-fx);  // 2**63: past int64, a float as + - * do
      return ints ? Value(floor_div(x, y)) : Value(std::floor(fx / fy));
    }
    if (op == "%") {
      ROTOR_CHECK(fy != 0, "integer division or modulo by zero");
      if (ints && y == -1) return Value(int64_t{0});
      if (ints) return Value(x - floor_div(x, y) * y);
      const double m = std::fmod(fx, fy);
      return Value(m != 0 && ((m < 0) != (fy < 0)) ? m + fy : m);
    }
    if (op == "**") {
      if (ints && y >= 0) {  // by squaring: 1 ** 10**18 takes 60 steps, not 10**18
        int64_t p = 1, base = x;
        for (int64_t e = y; e > 0; e >>= 1) {
          if ((e & 1) && __builtin_mul_overflow(p, base, &p)) return Value(std::pow(fx, fy));
          if (e > 1 && __builtin_mul_overflow(base, base, &base)) return Value(std::pow(fx, fy));
        }
        return Value(p);
      }
      return Value(std::pow(fx, fy));
    }
  }
  if (op == "+") {
    if (a.is_string() && b.is_string()) {
      check_string_size(a.as_string().size() + b.as_string().size());
      return Value(a.as_string() + b.as_string());
    }
    if (a.is_list() && b.is_list() && a.is_tuple() == b.is_tuple()) {
      check_list_size(a.as_list().size() + b.as_list().size());
      List l = a.as_list();
      l.insert(l.end(), b.as_list().begin(), b.as_list().end());
      return Value::list(std::move(l), a.is_tuple());
    }
  }
  if (op == "*" && (a.is_int() || b.is_int()) && (a.is_string() || b.is_string() || a.is_list() || b.is_list())) {
    const Value& seq = a.is_int() ? b : a;
    const int64_t n = a.is_int() ? a.as_int() : b.as_int();
    const uint64_t count = n > 0 ? static_cast<uint64_t>(n) : 0;
    const uint64_t unit = seq.is_string() ? seq.as_string().size() : seq.as_list().size();
    if (count > 0 && unit > 0) {
      const uint64_t limit = seq.is_string() ? kMaxStringBytes : kMaxListItems;
      if (count > limit / unit) seq.is_string() ? check_string_size(limit + 1) : check_list_size(limit + 1);
    }
    if (seq.is_string()) {
      std::string s;
      for (int64_t k = 0; k < n; ++k) s += seq.as_string();
      return Value(std::move(s));
    }
    List l;
    for (int64_t k = 0; k < n; ++k) l.insert(l.end(), seq.as_list().begin(), seq.as_list().end());
    return Value::list(std::move(l), seq.is_tuple());
  }
  if (op == "%" && a.is_string()) return Value(percent_format(a.as_string(), b));
  return type_error();
}

Value* Interpreter::Scope::find(const std::string& name) {
  for (Scope* s = this; s; s = s->parent)
    for (auto& kv : s->vars)
      if (kv.first == name) return &kv.second;
  return nullptr;
}

void Interpreter::Scope::set(const std::string& name, Value v) {
  for (auto& kv : vars)
    if (kv.first == name) {
      kv.second = std::move(v);
      return;
    }
  vars.emplace_back(name, std::move(v));
}

Interpreter::Interpreter(const Body& root, const Dict& variables) : root_(root) {
  globals_.parent = nullptr;
  for (const auto& kv : variables.items) globals_.set(kv.first, kv.second);
}

std::string Interpreter::render() {
  std::string out;
  try {
    exec(root_, globals_, out);
  } catch (const Error& e) {
    const std::string msg = e.what();
    if (msg.starts_with("chat template line ")) ROTOR_FAIL("{}", one_line(msg, kMaxMessageBytes));
    ROTOR_FAIL("chat template line {}: {}", line_, one_line(msg, kMaxMessageBytes));
  }
  return out;
}

void Interpreter::exec(const Body& body, Scope& scope, std::string& out) {
  for (const StmtPtr& s : body) {
    exec(*s, scope, out);
    if (flow_ != Flow::Normal) return;
  }
}

void Interpreter::exec(const Stmt& s, Scope& scope, std::string& out) {
  line_ = s.line;
  switch (s.kind) {
    case StmtKind::Data: out += s.text; break;
    case StmtKind::Output: out += eval(*s.expr, scope).str(); break;
    case StmtKind::If:
      if (eval(*s.expr, scope).truthy()) exec(s.body, scope, out);
      else exec(s.else_body, scope, out);
      return;
    case StmtKind::For: exec_for(s, scope, out); return;
    case StmtKind::Set: assign(*s.target, eval(*s.expr, scope), scope); return;
    case StmtKind::SetBlock: {
      std::string text;
      exec(s.body, scope, text);
      Value v(std::move(text));
      for (const ExprPtr& f : s.filters) {
        CallArgs args = eval_args(*f, 1, scope, "filter '" + f->name + "'");
        v = apply_filter(f->name, v, args);
      }
      line_ = s.line;
      assign(*s.target, std::move(v), scope);
      return;
    }
    case StmtKind::Macro: {
      const Stmt* m = &s;
      scope.set(s.name, Value::function(s.name, [this, m](CallArgs& args) { return call_macro(*m, args); }));
      return;
    }
    case StmtKind::Break: flow_ = Flow::Break; return;
    case StmtKind::Continue: flow_ = Flow::Continue; return;
    case StmtKind::FilterBlock: {
      std::string text;
      exec(s.body, scope, text);
      Value v(std::move(text));
      for (const ExprPtr& f : s.filters) {
        CallArgs args = eval_args(*f, 1, scope, "filter '" + f->name + "'");
        v = apply_filter(f->name, v, args);
      }
      out += v.str();
      return;
    }
    case StmtKind::With: {
      Scope inner{{}, &scope};
      for (const auto& [target, value] : s.assigns) assign(*target, eval(*value, scope), inner);
      exec(s.body, inner, out);
      return;
    }
    case StmtKind::Scope: exec(s.body, scope, out); return;
  }
  check_string_size(out.size());
}

void Interpreter::exec_for(const Stmt& s, Scope& scope, std::string& out) {
  const Value iterable = eval(*s.expr, scope);
  std::vector<Value> items = iterate(iterable);
  if (s.cond) {  // `for x in xs if cond`: filter first, so loop.* counts the kept items
    std::vector<Value> kept;
    for (Value& item : items) {
      count_step();
      Scope probe{{}, &scope};
      assign(*s.target, item, probe);
      if (eval(*s.cond, probe).truthy()) kept.push_back(std::move(item));
    }
    items = std::move(kept);
  }
  const auto n = static_cast<int64_t>(items.size());
  for (int64_t i = 0; i < n; ++i) {
    if (!s.cond) count_step();  // a filtered loop counted its items when it tested them
    Scope iter{{}, &scope};
    Dict loop;
    loop.set("index", Value(i + 1));
    loop.set("index0", Value(i));
    loop.set("revindex", Value(n - i));
    loop.set("revindex0", Value(n - i - 1));
    loop.set("first", Value(i == 0));
    loop.set("last", Value(i == n - 1));
    loop.set("length", Value(n));
    loop.set("depth", Value(int64_t{1}));
    loop.set("depth0", Value(int64_t{0}));
    loop.set("previtem", i > 0 ? items[static_cast<size_t>(i - 1)] : Value::undefined("there is no previous item"));
    loop.set("nextitem", i + 1 < n ? items[static_cast<size_t>(i + 1)] : Value::undefined("there is no next item"));
    loop.set("cycle", Value::function("loop.cycle", [i](CallArgs& a) {
               ROTOR_CHECK(!a.args.empty(), "no items for cycling given");
               return a.args[static_cast<size_t>(i) % a.args.size()];
             }));
    iter.set("loop", Value::dict(std::move(loop)));
    assign(*s.target, items[static_cast<size_t>(i)], iter);
    exec(s.body, iter, out);
    if (flow_ == Flow::Break) {
      flow_ = Flow::Normal;
      break;
    }
    flow_ = Flow::Normal;
  }
  if (n == 0) exec(s.else_body, scope, out);
}

void Interpreter::assign(const Expr& target, Value v, Scope& scope) {
  if (target.kind == ExprKind::Name) {
    scope.set(target.name, std::move(v));
  } else if (target.kind == ExprKind::Tuple) {
    const std::vector<Value> items = iterate(v);
    ROTOR_CHECK(items.size() == target.children.size(), "cannot unpack {} values into {} names", items.size(),
                target.children.size());
    for (size_t i = 0; i < items.size(); ++i) assign(*target.children[i], items[i], scope);
  } else {  // ns.attr
    const Value obj = eval(*target.children[0], scope);
    ROTOR_CHECK(obj.is_namespace(), "cannot assign attribute on non-namespace object");
    ROTOR_CHECK(!v.holds_namespace(), "a namespace cannot hold a namespace");
    obj.mutable_dict().set(target.name, std::move(v));
  }
}

Value Interpreter::get_attr(const Value& obj, const std::string& name) {
  switch (obj.type()) {
    case Value::Type::Undefined: ROTOR_FAIL("{}", undefined_message(obj));
    case Value::Type::Dict: {
      if (!obj.is_namespace()) {
        const Value m = method_value(obj, name);
        if (!m.is_undefined()) return m;
      }
      if (const Value* v = obj.as_dict().find(name)) return *v;
      return Value::undefined(no_attribute(obj, name));
    }
    default: {
      const Value m = method_value(obj, name);
      if (!m.is_undefined()) return m;
      return Value::undefined(no_attribute(obj, name));
    }
  }
}

Value Interpreter::get_item(const Value& obj, const Value& key) {
  if (obj.is_undefined()) return get_attr(obj, key.str());
  if (obj.is_dict() && key.is_string()) {
    if (const Value* v = obj.as_dict().find(key.as_string())) return *v;
  } else if ((obj.is_list() || obj.is_string()) && (key.is_int() || key.is_bool())) {
    int64_t i = key.is_bool() ? key.as_bool() : key.as_int();
    if (obj.is_list()) {
      const auto n = static_cast<int64_t>(obj.as_list().size());
      if (i < 0) i += n;
      if (i >= 0 && i < n) return obj.as_list()[static_cast<size_t>(i)];
    } else {
      const auto chars = chars_of(obj.as_string());
      const auto n = static_cast<int64_t>(chars.size());
      if (i < 0) i += n;
      if (i >= 0 && i < n) return Value(std::string(chars[static_cast<size_t>(i)]));
    }
  }
  if (key.is_string()) {
    const Value m = method_value(obj, key.as_string());
    if (!m.is_undefined()) return m;
  }
  return Value::undefined(no_attribute(obj, key.str()));
}

CallArgs Interpreter::eval_args(const Expr& e, size_t first, Scope& scope, std::string what) {
  CallArgs a;
  a.what = std::move(what);
  for (size_t i = first; i < e.children.size(); ++i) a.args.push_back(eval(*e.children[i], scope));
  for (const auto& [k, v] : e.kwargs) a.kwargs.emplace_back(k, eval(*v, scope));
  return a;
}

Value Interpreter::call_value(const Value& fn, CallArgs& args, int line) {
  if (line > 0) line_ = line;
  if (fn.is_undefined()) ROTOR_FAIL("{}", undefined_message(fn));
  ROTOR_CHECK(fn.is_function(), "'{}' object is not callable", fn.type_name());
  return fn.as_function()(args);
}

Value Interpreter::eval_call(const Expr& e, Scope& scope) {
  const Expr& callee = *e.children[0];
  if (callee.kind == ExprKind::Attr) {
    const Value obj = eval(*callee.children[0], scope);
    CallArgs args = eval_args(e, 1, scope, "method '" + callee.name + "'");
    line_ = e.line;
    if (obj.is_dict()) {  // loop.cycle, macros kept in a namespace or dict
      const Value* member = obj.as_dict().find(callee.name);
      if (member && member->is_function() && (obj.is_namespace() || !method_value(obj, callee.name).is_function()))
        return call_value(*member, args, e.line);
    }
    if (obj.is_undefined()) get_attr(obj, callee.name);
    return call_method(obj, callee.name, args);
  }
  const Value fn = eval(callee, scope);
  CallArgs args = eval_args(e, 1, scope, "'" + callee.name + "()'");
  return call_value(fn, args, e.line);
}

Value Interpreter::call_macro(const Stmt& m, CallArgs& args) {
  ROTOR_CHECK(++depth_ <= kMaxMacroDepth, "macro '{}' recursed more than {} levels", m.name, kMaxMacroDepth);
  count_step();
  ROTOR_CHECK(args.args.size() <= m.params.size(), "macro '{}' takes {} arguments ({} given)", m.name, m.params.size(),
              args.args.size());
  Scope scope{{}, &globals_};
  for (const auto& [k, v] : args.kwargs) {
    bool known = false;
    for (const auto& p : m.params) known = known || p.first == k;
    ROTOR_CHECK(known, "macro '{}' got an unexpected keyword argument '{}'", m.name, k);
  }
  for (size_t i = 0; i < m.params.size(); ++i) {
    const auto& [name, def] = m.params[i];
    if (i < args.args.size()) {
      scope.set(name, args.args[i]);
      continue;
    }
    const auto kw = std::find_if(args.kwargs.begin(), args.kwargs.end(), [&](const auto& kv) { return kv.first == name; });
    if (kw != args.kwargs.end()) scope.set(name, kw->second);
    else if (def) scope.set(name, eval(*def, scope));
    else scope.set(name, Value::undefined("'" + name + "' is undefined"));
  }
  std::string out;
  const int saved_line = line_;
  const Flow saved_flow = flow_;
  exec(m.body, scope, out);
  flow_ = saved_flow;
  line_ = saved_line;
  --depth_;
  return Value(std::move(out));
}

void Interpreter::count_step() {
  ROTOR_CHECK(++steps_ <= kMaxSteps, "more than {} loop iterations and macro calls", kMaxSteps);
}

Value Interpreter::apply_filter(const std::string& name, const Value& operand, CallArgs& args) {
  const FilterFn f = find_filter(name);
  ROTOR_CHECK(f != nullptr, "no filter named '{}'", name);
  if (args.what.empty()) args.what = "filter '" + name + "'";
  return f(*this, operand, args);
}

bool Interpreter::apply_test(const std::string& name, const Value& operand, CallArgs& args) {
  const TestFn t = find_test(name);
  ROTOR_CHECK(t != nullptr, "no test named '{}'", name);
  if (args.what.empty()) args.what = "test '" + name + "'";
  return t(*this, operand, args);
}

Value Interpreter::eval(const Expr& e, Scope& scope) {
  switch (e.kind) {
    case ExprKind::Const: return e.value;
    case ExprKind::Name: {
      if (Value* v = scope.find(e.name)) return *v;
      if (is_global_function(e.name)) return global_function(e.name);
      return Value::undefined("'" + e.name + "' is undefined");
    }
    case ExprKind::List:
    case ExprKind::Tuple: {
      List items;
      for (const ExprPtr& c : e.children) items.push_back(eval(*c, scope));
      return Value::list(std::move(items), e.kind == ExprKind::Tuple);
    }
    case ExprKind::Dict: {
      Dict d;
      for (size_t i = 0; i + 1 < e.children.size(); i += 2) {
        const Value k = eval(*e.children[i], scope);
        ROTOR_CHECK(k.is_string(), "dict keys must be strings here, not {}", k.type_name());
        d.set(k.as_string(), eval(*e.children[i + 1], scope));
      }
      return Value::dict(std::move(d));
    }
    case ExprKind::Attr: {
      const Value obj = eval(*e.children[0], scope);
      line_ = e.line;
      return get_attr(obj, e.name);
    }
    case ExprKind::Item: {
      const Value obj = eval(*e.children[0], scope);
      const Value key = eval(*e.children[1], scope);
      line_ = e.line;
      return get_item(obj, key);
    }
    case ExprKind::Slice: {
      const Value obj = eval(*e.children[0], scope);
      Value parts[3];
      for (int i = 0; i < 3; ++i) {
        parts[i] = e.children[static_cast<size_t>(i) + 1] ? eval(*e.children[static_cast<size_t>(i) + 1], scope) : Value::none();
        ROTOR_CHECK(parts[i].is_none() || parts[i].is_int(), "slice indices must be integers or None");
      }
      line_ = e.line;
      std::vector<Value> items;
      std::vector<std::string_view> chars;
      if (obj.is_string()) chars = chars_of(obj.as_string());
      else if (obj.is_list()) items = obj.as_list();
      else if (obj.is_undefined()) get_attr(obj, "__getitem__");
      else ROTOR_FAIL("'{}' object is not subscriptable", obj.type_name());
      const auto n = static_cast<int64_t>(obj.is_string() ? chars.size() : items.size());
      const int64_t step = parts[2].is_none() ? 1 : parts[2].as_int();
      ROTOR_CHECK(step != 0, "slice step cannot be zero");
      auto clamp = [&](const Value& v, int64_t def) {
        if (v.is_none()) return def;
        int64_t x = v.as_int();
        if (x < 0) x += n;
        if (step > 0) return std::clamp<int64_t>(x, 0, n);
        return std::clamp<int64_t>(x, -1, n - 1);
      };
      const int64_t start = clamp(parts[0], step > 0 ? 0 : n - 1), stop = clamp(parts[1], step > 0 ? n : -1);
      std::string s;
      List l;
      for (int64_t i = start; step > 0 ? i < stop : i > stop;) {
        if (obj.is_string()) s += chars[static_cast<size_t>(i)];
        else l.push_back(items[static_cast<size_t>(i)]);
        if (__builtin_add_overflow(i, step, &i)) break;  // a step past int64 ends the slice
      }
      return obj.is_string() ? Value(std::move(s)) : Value::list(std::move(l), obj.is_tuple());
    }
    case ExprKind::Call: return eval_call(e, scope);
    case ExprKind::Filter: {
      const Value operand = eval(*e.children[0], scope);
      CallArgs args = eval_args(e, 1, scope, "filter '" + e.name + "'");
      line_ = e.line;
      return apply_filter(e.name, operand, args);
    }
    case ExprKind::Test: {
      const Value operand = eval(*e.children[0], scope);
      CallArgs args = eval_args(e, 1, scope, "test '" + e.name + "'");
      line_ = e.line;
      return Value(apply_test(e.name, operand, args));
    }
    case ExprKind::Neg:
    case ExprKind::Pos: {
      const Value v = eval(*e.children[0], scope);
      line_ = e.line;
      if (v.is_undefined()) ROTOR_FAIL("{}", undefined_message(v));
      ROTOR_CHECK(v.is_number() || v.is_bool(), "bad operand type for unary {}: '{}'", e.kind == ExprKind::Neg ? "-" : "+",
                  v.type_name());
      if (e.kind == ExprKind::Pos) return v.is_bool() ? Value(static_cast<int64_t>(v.as_bool())) : v;
      if (v.is_int() && v.as_int() == INT64_MIN) return Value(-v.as_double());  // 2**63, past int64
      return v.is_float() ? Value(-v.as_double()) : Value(-(v.is_bool() ? static_cast<int64_t>(v.as_bool()) : v.as_int()));
    }
    case ExprKind::Binary: {
      const Value a = eval(*e.children[0], scope), b = eval(*e.children[1], scope);
      line_ = e.line;
      return binary_op(e.name, a, b);
    }
    case ExprKind::Concat: {
      std::string s;
      for (const ExprPtr& c : e.children) {
        s += eval(*c, scope).str();
        check_string_size(s.size());
      }
      return Value(std::move(s));
    }
    case ExprKind::Compare: {
      Value left = eval(*e.children[0], scope);
      for (size_t i = 0; i < e.ops.size(); ++i) {
        Value right = eval(*e.children[i + 1], scope);
        line_ = e.line;
        const std::string& op = e.ops[i];
        bool r;
        if (op == "==") r = equals(left, right);
        else if (op == "!=") r = !equals(left, right);
        else if (op == "in" || op == "notin") {
          bool found = false;
          if (right.is_string()) {
            ROTOR_CHECK(left.is_string(), "'in <string>' requires string as left operand, not {}", left.type_name());
            found = right.as_string().find(left.as_string()) != std::string::npos;
          } else if (right.is_dict() && !right.is_namespace()) {
            found = left.is_string() && right.as_dict().find(left.as_string()) != nullptr;
          } else {
            for (const Value& item : iterate(right)) found = found || equals(left, item);
          }
          r = op == "in" ? found : !found;
        } else {
          if (left.is_undefined() || right.is_undefined())
            ROTOR_FAIL("{}", undefined_message(left.is_undefined() ? left : right));
          const auto c = compare(left, right);
          ROTOR_CHECK(c.has_value(), "'{}' not supported between instances of '{}' and '{}'", op, left.type_name(),
                      right.type_name());
          r = op == "<" ? *c < 0 : op == ">" ? *c > 0 : op == "<=" ? *c <= 0 : *c >= 0;
        }
        if (!r) return Value(false);
        left = std::move(right);
      }
      return Value(true);
    }
    case ExprKind::And: {
      Value l = eval(*e.children[0], scope);
      return l.truthy() ? eval(*e.children[1], scope) : l;
    }
    case ExprKind::Or: {
      Value l = eval(*e.children[0], scope);
      return l.truthy() ? l : eval(*e.children[1], scope);
    }
    case ExprKind::Not: return Value(!eval(*e.children[0], scope).truthy());
    case ExprKind::Cond: {
      if (eval(*e.children[1], scope).truthy()) return eval(*e.children[0], scope);
      if (e.children[2]) return eval(*e.children[2], scope);
      return Value::undefined("the inline if-expression on line " + std::to_string(e.line) +
                              " evaluated to false and no else section was defined");
    }
  }
  return Value();
}

}  // namespace rotor::jinja
