// server/api_error.cpp — OpenAI-shaped error bodies.
#include "server/api_error.h"

namespace rotor::server {
namespace {

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

json error_body(int status, const std::string& message, const std::optional<std::string>& param) {
  return {{"error",
           {{"message", message},
            {"type", error_type(status)},
            {"param", param ? json(*param) : json(nullptr)},
            {"code", status}}}};
}

json ApiError::body() const { return error_body(status_, what(), param_); }

void bad_request(std::string message, std::optional<std::string> param) {
  throw ApiError(400, std::move(message), std::move(param));
}

}  // namespace rotor::server
