// tokenizer/jinja/arguments.h — a builtin's argument taken as a Python str or int, raising
// Python's TypeError (or Jinja's undefined error) as rotor::Error otherwise.
#pragma once
#include <cstdint>
#include <string>

#include "tokenizer/jinja/value.h"

namespace rotor::jinja {

std::string require_string(const Value& v, const char* what);
int64_t require_int(const Value& v, const char* what);
// Python's int(x) of a float, within int64 (Python's would grow past it).
int64_t float_to_int(double d);

}  // namespace rotor::jinja
