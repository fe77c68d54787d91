// tokenizer/jinja/parser.h — tokens → syntax tree, following jinja2/parser.py, and the
// load-time check of every construct: an unknown or unsupported tag, filter, test, method or
// function raises rotor::Error naming the construct and its template line.
#pragma once
#include <string_view>

#include "tokenizer/jinja/ast.h"

namespace rotor::jinja {

// How deep blocks and expressions may nest (a level per block, bracket, unary operator, and
// link of a chain of operators, attributes or filters): real templates use a dozen; the tree
// is walked recursively when rendered and freed, so a deeper one could overflow the stack.
inline constexpr int kMaxParseDepth = 500;

// Raises rotor::Error ("chat template line N: ...") for what it cannot parse or run.
Body parse(std::string_view source);

}  // namespace rotor::jinja
