// structured/ebnf.h — grammar text in the GBNF form llama.cpp and XGrammar take (vLLM's
// guided_grammar):
//   root ::= "{" ws pair ("," ws pair)* "}"      # rules; `root` is where matching starts
//   pair ::= [a-z]+ ":" ws ( "true" | [0-9]{1,3} )
// literals "..." (escapes \n \t \r \\ \" \xHH \uHHHH \UHHHHHHHH), classes [a-z] [^"\\],
// `.` (any character), grouping, `|`, postfix * + ? {m} {m,} {m,n}, comments from #.
#pragma once
#include <string_view>

#include "structured/grammar.h"

namespace rotor::structured {

// Raises rotor::Error with the line and column of a syntax error, or naming an undefined
// rule or a missing root.
Grammar parse_ebnf(std::string_view text, std::string_view root = "root");

}  // namespace rotor::structured
