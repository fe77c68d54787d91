// tokenizer/jinja/tests.cpp — the Jinja tests a template may use (x is name(...)): types,
// comparisons, divisibility, membership, case, and whether a name is a filter or a test.
#include <map>

#include "core/check.h"
#include "tokenizer/jinja/arguments.h"
#include "tokenizer/jinja/builtins.h"
#include "tokenizer/jinja/operators.h"
#include "tokenizer/jinja/methods.h"

namespace rotor::jinja {
namespace {

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

}  // namespace

TestFn find_test(std::string_view name) {
  const auto it = tests().find(name);
  return it == tests().end() ? nullptr : it->second;
}

}  // namespace rotor::jinja
