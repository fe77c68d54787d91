// tokenizer/jinja/expressions.cpp — the interpreter's expression evaluation: names, literals,
// attributes, items and slices, calls of functions, methods and macros, filters, tests,
// operators, comparisons and conditional expressions.
#include <algorithm>

#include "core/check.h"
#include "tokenizer/jinja/builtins.h"
#include "tokenizer/jinja/interpreter.h"
#include "tokenizer/jinja/operators.h"
#include "tokenizer/jinja/py_string.h"

namespace rotor::jinja {

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
      const std::string& s = obj.as_string();
      const int64_t n = *obj.length();
      if (i < 0) i += n;
      if (i >= 0 && i < n) {
        // A code point is a byte of an ASCII string (as many code points as bytes): no walk.
        if (n == static_cast<int64_t>(s.size())) return Value(s.substr(static_cast<size_t>(i), 1));
        return Value(std::string(chars_of(s)[static_cast<size_t>(i)]));
      }
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
      if (obj.is_undefined()) get_attr(obj, "__getitem__");
      ROTOR_CHECK(obj.is_string() || obj.is_list(), "'{}' object is not subscriptable", obj.type_name());
      const auto n = obj.is_string() ? *obj.length() : static_cast<int64_t>(obj.as_list().size());
      // An ASCII string's code points are its bytes; another's are found once, not per item.
      const bool ascii = obj.is_string() && n == static_cast<int64_t>(obj.as_string().size());
      std::vector<std::string_view> chars;
      if (obj.is_string() && !ascii) chars = chars_of(obj.as_string());
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
        if (ascii) s += obj.as_string()[static_cast<size_t>(i)];
        else if (obj.is_string()) s += chars[static_cast<size_t>(i)];
        else l.push_back(obj.as_list()[static_cast<size_t>(i)]);
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
      if (v.is_int() && v.as_int() == INT64_MIN) integer_overflow(fmt::format("-({})", v.as_int()));  // 2**63
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
