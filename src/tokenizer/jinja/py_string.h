// tokenizer/jinja/py_string.h — Python's str methods over UTF-8 text, by code point, as the
// str methods and the filters of the Jinja builtins use them. Input is valid UTF-8 (values
// are repaired when they come in, tokenizer/utf8.h).
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/jinja/value.h"

namespace rotor::jinja {

// A string's code points and back.
std::u32string u32(const std::string& s);
std::string u8(const std::u32string& s);
// The UTF-8 text of each code point (Python indexes and slices strings by code point).
std::vector<std::string_view> chars_of(const std::string& s);

// One code point's case mapping and classes (Unicode's, through utf8proc).
char32_t upper(char32_t c);
char32_t lower(char32_t c);
bool is_cased(char32_t c);
bool is_alpha(char32_t c);
bool is_digit(char32_t c);
// s with f applied to each code point.
std::string map_chars(const std::string& s, char32_t (*f)(char32_t));

// str.title() and str.capitalize().
std::string py_title(const std::string& s);
std::string py_capitalize(const std::string& s);
// Python's str.splitlines().
std::vector<std::string> splitlines(const std::string& s, bool keepends = false);
// str.split / str.rsplit (sep None or undefined: runs of whitespace).
std::vector<Value> py_split(const std::string& s, const Value& sep, int64_t maxsplit, bool from_right);
// Python's str.strip(chars) family; chars none or undefined = whitespace.
std::string py_strip(const std::string& s, const Value& chars, bool left, bool right);
// Python's str.startswith / endswith (prefix may be a tuple).
bool affix(const std::string& s, const Value& arg, bool start);
// str.format for {} / {0} / {name} fields without format specs.
std::string py_format(const std::string& fmt, const CallArgs& a);
// str.find / str.rfind: the code-point index of sub, or -1.
int64_t py_find(const std::string& s, const std::string& sub, bool reverse);
// Python's str.center / ljust / rjust (align 0 / -1 / 1).
std::string pad(const std::string& s, int64_t width, const std::string& fill, int align);

}  // namespace rotor::jinja
