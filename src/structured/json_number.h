// structured/json_number.h — JSON numbers within bounds as grammar expressions (what JSON
// schema's minimum / maximum / exclusiveMinimum / exclusiveMaximum allow): integers digit
// by digit (as llama.cpp's converter does), decimals as an integer part plus, at a bound's
// integer part, exactly as many fraction digits as the bounds have.
#pragma once
#include <cstdlib>
#include <optional>
#include <string>

#include "structured/grammar.h"

namespace rotor::structured {

struct NumberBound {
  std::string value;   // a decimal as JSON wrote it ("-3", "2.5", "1e3")
  bool exclusive = false;
  // The value as a double: strtod's, which std::stod would refuse with an exception for a
  // subnormal (1e-320), where the checks here name the bound instead.
  double number() const { return std::strtod(value.c_str(), nullptr); }
};

// Integers in [lo, hi]; raises rotor::Error if the range is empty or a bound is beyond 1e15.
Expr integer_range(const std::optional<NumberBound>& lo, const std::optional<NumberBound>& hi);
// Numbers (no exponent) in the range; same errors.
Expr number_range(const std::optional<NumberBound>& lo, const std::optional<NumberBound>& hi);

}  // namespace rotor::structured
