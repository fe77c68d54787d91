// apps/frontend_args.cpp — the front-end flags: registration and validation.
#include "apps/frontend_args.h"

#include <filesystem>

#include "core/check.h"

namespace rotor::app {
namespace fs = std::filesystem;
using json = nlohmann::ordered_json;

namespace {

// vLLM's --allowed-origins etc.: a JSON list of strings (default ["*"]).
json string_list(const char* flag, const std::string& text) {
  if (text.empty()) return json::array({"*"});
  const json j = json::parse(text, nullptr, false);
  ROTOR_CHECK(j.is_array(), "{}: expected a JSON list of strings such as '[\"*\"]' (got {})", flag, text);
  for (const json& s : j) ROTOR_CHECK(s.is_string(), "{}: expected a JSON list of strings (got {})", flag, text);
  return j;
}

}  // namespace

void add_frontend_flags(CLI::App& cmd, FrontendArgs& a) {
  cmd.add_flag("--enable-log-requests,!--disable-log-requests,!--no-enable-log-requests", a.enable_log_requests,
               "Log each request: id, prompt length, sampling parameters, the prompt (cut at --max-log-len)");
  cmd.add_option("--max-log-len", a.max_log_len, "Most prompt characters (or token ids) a request log line shows");
  cmd.add_flag("--disable-log-stats", a.disable_log_stats, "No periodic stats line (throughput, queue, KV cache)");
  cmd.add_flag("--return-tokens-as-token-ids", a.return_tokens_as_token_ids,
               "Log-prob tokens as \"token_id:N\" unless a request says otherwise");
  cmd.add_flag("--enable-prompt-tokens-details", a.enable_prompt_tokens_details,
               "usage.prompt_tokens_details.cached_tokens: prompt tokens served by the prefix cache");
  cmd.add_option("--allowed-origins", a.allowed_origins, "CORS: JSON list of origins (default [\"*\"])");
  cmd.add_option("--allowed-methods", a.allowed_methods, "CORS: JSON list of methods");
  cmd.add_option("--allowed-headers", a.allowed_headers, "CORS: JSON list of headers");
  cmd.add_flag("--allow-credentials", a.allow_credentials, "CORS: allow credentials");
  cmd.add_option("--ssl-keyfile", a.ssl_keyfile, "TLS private key file (PEM)");
  cmd.add_option("--ssl-certfile", a.ssl_certfile, "TLS certificate file (PEM)");
  cmd.add_option("--ssl-ca-certs", a.ssl_ca_certs, "CA certificates to verify clients with");
  cmd.add_option("--ssl-cert-reqs", a.ssl_cert_reqs, "Client certificates: 0 none, 1 optional, 2 required");
  cmd.add_option("--root-path", a.root_path, "Path prefix the server is reached under behind a proxy");
}

json resolve_frontend(const FrontendArgs& a) {
  ROTOR_CHECK(a.max_log_len >= -1, "--max-log-len must be at least 0 (got {})", a.max_log_len);
  const json origins = string_list("--allowed-origins", a.allowed_origins);
  const json methods = string_list("--allowed-methods", a.allowed_methods);
  const json headers = string_list("--allowed-headers", a.allowed_headers);

  for (const auto& [flag, path] : {std::pair{"--ssl-keyfile", &a.ssl_keyfile}, {"--ssl-certfile", &a.ssl_certfile},
                                   {"--ssl-ca-certs", &a.ssl_ca_certs}})
    ROTOR_CHECK(path->empty() || fs::is_regular_file(*path), "{}: no file {}", flag, *path);
  ROTOR_CHECK(a.ssl_keyfile.empty() == a.ssl_certfile.empty(), "--ssl-keyfile and --ssl-certfile go together");
  ROTOR_CHECK(a.ssl_cert_reqs >= 0 && a.ssl_cert_reqs <= 2, "--ssl-cert-reqs must be 0, 1 or 2 (got {})",
              a.ssl_cert_reqs);
  ROTOR_CHECK(a.ssl_cert_reqs == 0 || !a.ssl_ca_certs.empty(), "--ssl-cert-reqs {} needs --ssl-ca-certs",
              a.ssl_cert_reqs);

  ROTOR_CHECK(a.ssl_ca_certs.empty() || !a.ssl_certfile.empty(), "--ssl-ca-certs needs --ssl-certfile and --ssl-keyfile");
  ROTOR_CHECK(a.root_path.empty() || a.root_path.front() == '/', "--root-path must start with '/' (got '{}')",
              a.root_path);
  return {
      {"enable_log_requests", a.enable_log_requests},
      {"max_log_len", a.max_log_len < 0 ? json(nullptr) : json(a.max_log_len)},
      {"log_stats", !a.disable_log_stats},
      {"return_tokens_as_token_ids", a.return_tokens_as_token_ids},
      {"enable_prompt_tokens_details", a.enable_prompt_tokens_details},
      {"cors", {{"allowed_origins", origins}, {"allowed_methods", methods}, {"allowed_headers", headers},
                {"allow_credentials", a.allow_credentials}}},
      {"tls", {{"keyfile", a.ssl_keyfile}, {"certfile", a.ssl_certfile}, {"ca_certs", a.ssl_ca_certs},
               {"cert_reqs", a.ssl_cert_reqs}}},
      {"root_path", a.root_path.size() > 1 && a.root_path.back() == '/' ? a.root_path.substr(0, a.root_path.size() - 1)
                                                                           : a.root_path},
  };
}

}  // namespace rotor::app
