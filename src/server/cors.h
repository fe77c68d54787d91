// server/cors.h — Cross-Origin Resource Sharing as vLLM serves it (Starlette's CORS
// middleware with --allowed-origins / --allowed-methods / --allowed-headers /
// --allow-credentials, every one defaulting to "*"): the headers a reply to a cross-origin
// request carries, and the answer to a preflight (OPTIONS with Access-Control-Request-Method).
#pragma once
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace rotor::server {

using HeaderList = std::vector<std::pair<std::string, std::string>>;

struct CorsOptions {
  std::vector<std::string> allowed_origins{"*"};  // "*": any origin
  std::vector<std::string> allowed_methods{"*"};  // "*": DELETE, GET, HEAD, OPTIONS, PATCH, POST, PUT
  std::vector<std::string> allowed_headers{"*"};  // "*": whatever the preflight asks for
  bool allow_credentials = false;
};

// What a request says about its origin (headers; empty when absent).
struct CorsRequest {
  std::string_view origin;
  std::string_view request_method;   // Access-Control-Request-Method
  std::string_view request_headers;  // Access-Control-Request-Headers
  bool has_request_headers = false;
  bool has_cookie = false;
};

struct PreflightReply {
  int status = 200;                  // 400 when the origin, method or headers are not allowed
  std::string body;                  // "OK" or "Disallowed CORS origin, method, headers"
  HeaderList headers;
};

class CorsPolicy {
 public:
  explicit CorsPolicy(CorsOptions options);

  // A preflight: OPTIONS with Origin and Access-Control-Request-Method.
  static bool is_preflight(std::string_view method, const CorsRequest& r) {
    return method == "OPTIONS" && !r.origin.empty() && !r.request_method.empty();
  }
  PreflightReply preflight(const CorsRequest& r) const;
  // Headers added to the reply of any other request that has an Origin (none without one).
  HeaderList reply_headers(const CorsRequest& r) const;

 private:
  bool origin_allowed(std::string_view origin) const;

  CorsOptions opt_;
  bool any_origin_ = false, any_header_ = false;
  std::vector<std::string> methods_;        // the expanded list
  std::vector<std::string> header_names_;   // allowed header names, lower case, with the safelisted ones
};

}  // namespace rotor::server
