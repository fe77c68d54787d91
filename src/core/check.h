// core/check.h — ROTOR_CHECK / ROTOR_FAIL: raise rotor::Error with an fmt-formatted message.
#pragma once
#include <fmt/format.h>

#include "core/error.h"

// ROTOR_CHECK(cond, "fmt {}", args...) throws rotor::Error with the formatted message.
#define ROTOR_CHECK(cond, ...)                                                     \
  do {                                                                             \
    if (!(cond)) [[unlikely]]                                                      \
      ::rotor::fail(::fmt::format(__VA_ARGS__), std::source_location::current()); \
  } while (0)

#define ROTOR_FAIL(...) ::rotor::fail(::fmt::format(__VA_ARGS__), std::source_location::current())
