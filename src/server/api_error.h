// server/api_error.h — ApiError: a request the server answers with an HTTP error status and
// OpenAI's error body {"error": {"message", "type", "param", "code"}} (vLLM's type names).
#pragma once
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include "server/json.h"

namespace rotor::server {

class ApiError : public std::runtime_error {
 public:
  ApiError(int status, std::string message, std::optional<std::string> param = std::nullopt)
      : std::runtime_error(std::move(message)), status_(status), param_(std::move(param)) {}
  int status() const { return status_; }
  const std::optional<std::string>& param() const { return param_; }
  json body() const;
  // Seconds a client should wait before retrying (a Retry-After header); 0: none.
  int retry_after_s() const { return retry_after_s_; }
  void set_retry_after(int seconds) { retry_after_s_ = seconds; }

 private:
  int status_;
  std::optional<std::string> param_;
  int retry_after_s_ = 0;
};

// 400 with the offending field named.
[[noreturn]] void bad_request(std::string message, std::optional<std::string> param = std::nullopt);

// The error body for any status ("BadRequestError", "NotFoundError", ...). Its message is
// `message` as one line of at most kMaxErrorMessage bytes (tokenizer/one_line.h), whatever raised it.
json error_body(int status, const std::string& message, const std::optional<std::string>& param = std::nullopt);

constexpr size_t kMaxErrorMessage = 1000;

// A value from the request, for a message: a JSON string of its first 40 bytes or so, with
// "... (N bytes)" after it when longer.
std::string quote_value(std::string_view value);

}  // namespace rotor::server
