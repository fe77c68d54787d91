// core/check.cpp — rotor::Error and fail().
#include "core/error.h"

namespace rotor {

Error::Error(std::string message, std::source_location where)
    : std::runtime_error(std::move(message)), where_(where) {}

void fail(std::string message, std::source_location where) { throw Error(std::move(message), where); }

}  // namespace rotor
