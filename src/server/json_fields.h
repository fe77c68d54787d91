// server/json_fields.h — typed reads of optional request fields with OpenAI-style 400s that
// name the field. A JSON null is the same as an absent field (clients send both).
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "server/json.h"

namespace rotor::server {

// The value of obj[name], or nullptr when absent or null.
const json* find_field(const json& obj, std::string_view name);

std::optional<double> opt_number(const json& obj, std::string_view name);
// A number that must fit a float (1e300 would become inf): 400 naming the field otherwise.
std::optional<float> opt_float(const json& obj, std::string_view name);
// Integers; a float with an integral value (2.0) counts as an integer.
std::optional<int64_t> opt_int(const json& obj, std::string_view name);
std::optional<bool> opt_bool(const json& obj, std::string_view name);
std::optional<std::string> opt_string(const json& obj, std::string_view name);
// An object (returned as a pointer into obj).
const json* opt_object(const json& obj, std::string_view name);

// 400 unless lo <= v <= hi (bounds in the message).
void check_range(std::string_view name, double v, double lo, double hi);
void check_min(std::string_view name, double v, double lo);

// The deepest nesting a request's JSON may have (1 for a scalar), in the body and in JSON
// given as text inside it (tool call arguments).
constexpr int kMaxJsonDepth = 64;

// Parses JSON text nested at most max_depth levels deep, else nullopt; json::parse_error when
// the text is malformed. A deeper value is never built: nlohmann copies and prints values
// recursively, so one of a few hundred thousand levels would overflow the stack.
std::optional<json> parse_json_within(std::string_view text, int max_depth);

}  // namespace rotor::server
