// tokenizer/jinja/operators.h — Python's binary operators and iteration on values, for the
// interpreter and the builtins.
#pragma once
#include <string>
#include <vector>

#include "tokenizer/jinja/value.h"

namespace rotor::jinja {

// Python-style binary operators (+ - * / // % **) and iteration, shared with the builtins.
Value binary_op(const std::string& op, const Value& a, const Value& b);
std::vector<Value> iterate(const Value& v);
// Raises the error of an integer result past int64 ("integer overflow: <expression> ..."):
// Python's would be a big integer, which rotor does not have; a float would be silently wrong.
[[noreturn]] void integer_overflow(const std::string& expression);
// The error for using an undefined value ("'x' is undefined", "'dict object' has no attribute 'y'").
std::string undefined_message(const Value& v);

}  // namespace rotor::jinja
