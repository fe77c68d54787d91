// server/json_fields.cpp — typed optional fields of request objects.
#include "server/json_fields.h"

#include <cfloat>
#include <cmath>

#include <fmt/format.h>

#include "server/api_error.h"

namespace rotor::server {
namespace {

[[noreturn]] void wrong_type(std::string_view name, const char* expected, const json& got) {
  bad_request(fmt::format("'{}' must be {} (got {})", name, expected, got.type_name()), std::string(name));
}

}  // namespace

const json* find_field(const json& obj, std::string_view name) {
  const auto it = obj.find(name);
  if (it == obj.end() || it->is_null()) return nullptr;
  return &*it;
}

std::optional<double> opt_number(const json& obj, std::string_view name) {
  const json* v = find_field(obj, name);
  if (!v) return std::nullopt;
  if (!v->is_number()) wrong_type(name, "a number", *v);
  const double d = v->get<double>();
  if (!std::isfinite(d)) bad_request(fmt::format("'{}' must be finite", name), std::string(name));
  return d;
}

std::optional<float> opt_float(const json& obj, std::string_view name) {
  const std::optional<double> d = opt_number(obj, name);
  if (!d) return std::nullopt;
  if (std::fabs(*d) > FLT_MAX)
    bad_request(fmt::format("'{}' is out of range (got {}; a finite 32-bit float is needed)", name, *d),
                std::string(name));
  return static_cast<float>(*d);
}

std::optional<int64_t> opt_int(const json& obj, std::string_view name) {
  const json* v = find_field(obj, name);
  if (!v) return std::nullopt;
  // nlohmann keeps every non-negative integer unsigned: one past INT64_MAX must not wrap around.
  if (v->is_number_unsigned() && v->get<uint64_t>() > static_cast<uint64_t>(INT64_MAX))
    bad_request(fmt::format("'{}' is out of range (got {})", name, v->dump()), std::string(name));
  if (v->is_number_integer()) return v->get<int64_t>();
  if (v->is_number_float()) {
    const double d = v->get<double>();
    if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9.0e18) return static_cast<int64_t>(d);
  }
  wrong_type(name, "an integer", *v);
}

std::optional<bool> opt_bool(const json& obj, std::string_view name) {
  const json* v = find_field(obj, name);
  if (!v) return std::nullopt;
  if (!v->is_boolean()) wrong_type(name, "a boolean", *v);
  return v->get<bool>();
}

std::optional<std::string> opt_string(const json& obj, std::string_view name) {
  const json* v = find_field(obj, name);
  if (!v) return std::nullopt;
  if (!v->is_string()) wrong_type(name, "a string", *v);
  return v->get<std::string>();
}

const json* opt_object(const json& obj, std::string_view name) {
  const json* v = find_field(obj, name);
  if (v && !v->is_object()) wrong_type(name, "an object", *v);
  return v;
}

void check_range(std::string_view name, double v, double lo, double hi) {
  if (!(v >= lo && v <= hi))
    bad_request(fmt::format("'{}' must be between {} and {} (got {})", name, lo, hi, v), std::string(name));
}

void check_min(std::string_view name, double v, double lo) {
  if (!(v >= lo)) bad_request(fmt::format("'{}' must be at least {} (got {})", name, lo, v), std::string(name));
}

std::optional<json> parse_json_within(std::string_view text, int max_depth) {
  bool too_deep = false;
  // An event's depth counts the containers open around it: a value max_depth levels deep is at
  // max_depth - 1. Once too deep, nothing more is kept.
  json j = json::parse(text, [&](int depth, json::parse_event_t, json&) {
    too_deep = too_deep || depth >= max_depth;
    return !too_deep;
  });
  if (too_deep) return std::nullopt;
  return j;
}

}  // namespace rotor::server
