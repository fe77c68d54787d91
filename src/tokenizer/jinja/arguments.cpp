// tokenizer/jinja/arguments.cpp — a builtin's argument taken as a Python str or int.
#include "tokenizer/jinja/arguments.h"

#include <cmath>

#include "core/check.h"
#include "tokenizer/jinja/operators.h"

namespace rotor::jinja {

std::string require_string(const Value& v, const char* what) {
  if (v.is_string()) return v.as_string();
  if (v.is_undefined()) ROTOR_FAIL("{}", undefined_message(v));
  ROTOR_FAIL("{} expects a string, not {}", what, v.type_name());
}

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

}  // namespace rotor::jinja
