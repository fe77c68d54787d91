// tokenizer/jinja/parser.h — tokens → syntax tree, following jinja2/parser.py, and the
// load-time check of every construct: an unknown or unsupported tag, filter, test, method or
// function raises rotor::Error naming the construct and its template line.
#pragma once
#include <string_view>

#include "tokenizer/jinja/ast.h"

namespace rotor::jinja {

Body parse(std::string_view source);

}  // namespace rotor::jinja
