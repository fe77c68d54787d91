// server/api_error.cpp — OpenAI-shaped error bodies.
#include "server/api_error.h"

#include <fmt/format.h>

#include "tokenizer/one_line.h"

namespace rotor::server {
namespace {

// Back from `at` to the start of a UTF-8 character.
size_t character_start(std::string_view s, size_t at) {
  while (at > 0 && at < s.size() && (static_cast<unsigned char>(s[at]) & 0xC0) == 0x80) --at;
  return at;
}

const char* error_type(int status) {
  switch (status) {
    case 400: return "BadRequestError";
    case 401: return "AuthenticationError";
    case 404: return "NotFoundError";
    case 405: return "MethodNotAllowedError";
    case 413: return "RequestTooLargeError";
    case 415: return "UnsupportedMediaTypeError";
    case 431: return "RequestHeaderFieldsTooLargeError";
    case 503: return "ServiceUnavailableError";
    default: return status >= 500 ? "InternalServerError" : "BadRequestError";
  }
}

}  // namespace

std::string quote_value(std::string_view value) {
  constexpr size_t kShown = 40;
  const size_t shown = character_start(value, std::min(value.size(), kShown));
  std::string out = dump_json(json(std::string(value.substr(0, shown))));
  if (shown < value.size()) out += fmt::format("... ({} bytes)", value.size());
  return out;
}

json error_body(int status, const std::string& message, const std::optional<std::string>& param) {
  return {{"error",
           {{"message", one_line(message, kMaxErrorMessage)},
            {"type", error_type(status)},
            {"param", param ? json(*param) : json(nullptr)},
            {"code", status}}}};
}

json ApiError::body() const { return error_body(status_, what(), param_); }

void bad_request(std::string message, std::optional<std::string> param) {
  throw ApiError(400, std::move(message), std::move(param));
}

}  // namespace rotor::server
