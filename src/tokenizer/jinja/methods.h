// tokenizer/jinja/methods.h — the str and dict methods by name, for the filters and tests
// that are one of them (replace, items, lower, upper). builtins.h has the lookup the
// parser and interpreter use (is_method, call_method, method_value).
#pragma once
#include <string>

#include "tokenizer/jinja/value.h"

namespace rotor::jinja {

// s.name(args) for a str method; raises for other names.
Value string_method(const std::string& s, const std::string& name, CallArgs& a);
// d.name(args) for a dict method (get, items, keys, values, copy).
Value dict_method(const Value& d, const std::string& name, CallArgs& a);

}  // namespace rotor::jinja
