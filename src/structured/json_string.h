// structured/json_string.h — JSON strings as grammar expressions: the characters of a string
// as written (unescaped, or an escape; never a lone surrogate), lengths in characters,
// string values that match a regex (JSON schema `pattern`, written with escapes where the
// JSON text needs them) and the cheap `format`s.
#pragma once
#include <optional>
#include <string_view>
#include <vector>

#include "structured/grammar.h"

namespace rotor::structured {

// One character of a JSON string's text: [^"\\\x00-\x1F] or an escape.
Expr json_string_char();
// "..." with min_len to max_len (-1: unbounded) characters.
Expr json_string(int min_len, int max_len);
// The text of characters in `cls` (code points) inside a JSON string: the plain ones as
// themselves, '"', '\\' and \b \f \n \r \t as escapes (other control characters are left out).
Expr json_chars(const std::vector<Range>& cls);
// "..." whose value contains a match of the regex (search semantics, as JSON schema says).
Expr json_string_pattern(std::string_view pattern);
// "..." in a format (date, time, date-time, email, uuid, ipv4, hostname, uri); nullopt for
// other formats.
std::optional<Expr> json_string_format(std::string_view format);

}  // namespace rotor::structured
