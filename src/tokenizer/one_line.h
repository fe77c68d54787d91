// tokenizer/one_line.h — one_line: any bytes made into a message of one line of valid UTF-8
// and bounded length. The server's error bodies (JSON needs valid UTF-8) and the chat
// template's errors (which quote template text and request values) both pass through it.
#pragma once
#include <cstddef>
#include <string>
#include <string_view>

namespace rotor {

// The message as one line of valid UTF-8, escaped as Python's repr escapes: \n, \r, \t, other
// control characters as \x01 .. \x1f and \x7f, the line breaks U+0085, U+2028 and U+2029 as
// \x85, \u2028, \u2029, and each byte of invalid UTF-8 as \xNN. When that is longer than
// max_bytes (at least 5), its middle is left out (" ... ") at character and escape boundaries,
// so both ends remain and the result is at most max_bytes long.
std::string one_line(std::string_view message, size_t max_bytes);

}  // namespace rotor
