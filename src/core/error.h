// core/error.h — rotor::Error: a one-line message for the user plus the source location for
// the log. Free of fmt, so CUDA translation units can raise it (core/check.h adds the macros).
#pragma once
#include <source_location>
#include <stdexcept>
#include <string>

namespace rotor {

class Error : public std::runtime_error {
 public:
  Error(std::string message, std::source_location where = std::source_location::current());
  const std::source_location& where() const { return where_; }

 private:
  std::source_location where_;
};

[[noreturn]] void fail(std::string message, std::source_location where = std::source_location::current());

}  // namespace rotor
