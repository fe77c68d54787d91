// server/cors.cpp — the CORS headers and preflight answers (Starlette's rules, which vLLM
// serves: "*" origins answer "*" unless credentials may be sent, then the origin itself).
#include "server/cors.h"

#include <algorithm>
#include <cctype>
#include <set>

namespace rotor::server {
namespace {

constexpr int kMaxAgeSeconds = 600;
constexpr const char* kAllMethods[] = {"DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT"};
constexpr const char* kSafelistedHeaders[] = {"Accept", "Accept-Language", "Content-Language", "Content-Type"};

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool contains(const std::vector<std::string>& v, std::string_view s) { return std::find(v.begin(), v.end(), s) != v.end(); }

std::string join(const std::vector<std::string>& v) {
  std::string out;
  for (const std::string& s : v) out += (out.empty() ? "" : ", ") + s;
  return out;
}

}  // namespace

CorsPolicy::CorsPolicy(CorsOptions options) : opt_(std::move(options)) {
  any_origin_ = contains(opt_.allowed_origins, "*");
  any_header_ = contains(opt_.allowed_headers, "*");
  if (contains(opt_.allowed_methods, "*")) methods_.assign(std::begin(kAllMethods), std::end(kAllMethods));
  else methods_ = opt_.allowed_methods;
  std::set<std::string> names(std::begin(kSafelistedHeaders), std::end(kSafelistedHeaders));
  names.insert(opt_.allowed_headers.begin(), opt_.allowed_headers.end());
  for (const std::string& n : names) header_names_.push_back(n);
}

bool CorsPolicy::origin_allowed(std::string_view origin) const {
  return any_origin_ || contains(opt_.allowed_origins, origin);
}

PreflightReply CorsPolicy::preflight(const CorsRequest& r) const {
  PreflightReply p;
  // The origin is named (and Vary: Origin said) unless any origin may read without credentials.
  const bool explicit_origin = !any_origin_ || opt_.allow_credentials;
  if (explicit_origin) p.headers.emplace_back("Vary", "Origin");
  else p.headers.emplace_back("Access-Control-Allow-Origin", "*");
  p.headers.emplace_back("Access-Control-Allow-Methods", join(methods_));
  p.headers.emplace_back("Access-Control-Max-Age", std::to_string(kMaxAgeSeconds));
  if (!any_header_) p.headers.emplace_back("Access-Control-Allow-Headers", join(header_names_));
  if (opt_.allow_credentials) p.headers.emplace_back("Access-Control-Allow-Credentials", "true");

  std::vector<std::string> failures;
  if (origin_allowed(r.origin)) {
    if (explicit_origin) p.headers.emplace_back("Access-Control-Allow-Origin", std::string(r.origin));
  } else {
    failures.push_back("origin");
  }
  if (!contains(methods_, r.request_method)) failures.push_back("method");
  if (any_header_ && r.has_request_headers) {
    p.headers.emplace_back("Access-Control-Allow-Headers", std::string(r.request_headers));
  } else if (r.has_request_headers) {
    std::string_view rest = r.request_headers;
    while (!rest.empty()) {
      const size_t comma = rest.find(',');
      const std::string name = lower(trim(rest.substr(0, comma)));
      rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
      const bool allowed = std::any_of(header_names_.begin(), header_names_.end(),
                                       [&](const std::string& h) { return lower(h) == name; });
      if (!allowed) {
        failures.push_back("headers");
        break;
      }
    }
  }
  if (failures.empty()) {
    p.body = "OK";
  } else {
    p.status = 400;
    p.body = "Disallowed CORS " + join(failures);
  }
  return p;
}

HeaderList CorsPolicy::reply_headers(const CorsRequest& r) const {
  HeaderList h;
  if (r.origin.empty()) return h;
  if (any_origin_) h.emplace_back("Access-Control-Allow-Origin", "*");
  if (opt_.allow_credentials) h.emplace_back("Access-Control-Allow-Credentials", "true");
  // A listed origin, or "*" where credentials may be sent (a browser refuses "*" with
  // credentials): name the origin itself.
  if (any_origin_ ? (r.has_cookie || opt_.allow_credentials) : origin_allowed(r.origin)) {
    std::erase_if(h, [](const auto& kv) { return kv.first == "Access-Control-Allow-Origin"; });
    h.emplace_back("Access-Control-Allow-Origin", std::string(r.origin));
    h.emplace_back("Vary", "Origin");
  }
  return h;
}

}  // namespace rotor::server
