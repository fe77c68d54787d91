// tokenizer/jinja/lexer.h — template source → tokens, with Jinja2's lexing rules as
// transformers configures them: trim_blocks and lstrip_blocks on, `-` / `+` whitespace
// control, keep_trailing_newline off, newlines normalized to "\n", {% raw %} blocks, and
// tag ends not recognized while brackets are open.
#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace rotor::jinja {

enum class TokenType { Data, VarBegin, VarEnd, BlockBegin, BlockEnd, Name, String, Int, Float, Op, Eof };

struct Token {
  TokenType type;
  std::string value;  // Data: the text; String: the decoded literal; others: the spelling
  int line;
};

// Raises rotor::Error ("chat template line N: ...") on malformed source.
std::vector<Token> lex(std::string_view source);

// Python's str.isspace() for one code point (what Jinja's \s and strip() remove).
bool py_isspace(char32_t c);

}  // namespace rotor::jinja
