// apps/frontend_args.h — `rotor serve`'s flags for the OpenAI front end that are not the
// engine's: request logging (--enable-log-requests, --max-log-len), the periodic stats line
// (--disable-log-stats), response defaults (--return-tokens-as-token-ids,
// --enable-prompt-tokens-details), and the HTTP transport's CORS / TLS / --root-path.
#pragma once
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

namespace rotor::app {

struct FrontendArgs {
  bool enable_log_requests = false;
  int max_log_len = -1;                      // characters / token ids of a logged prompt; -1: all
  bool disable_log_stats = false;
  bool return_tokens_as_token_ids = false;
  bool enable_prompt_tokens_details = false;
  // The HTTP transport's.
  std::string allowed_origins, allowed_methods, allowed_headers;  // JSON lists, as vLLM takes them
  bool allow_credentials = false;
  std::string ssl_keyfile, ssl_certfile, ssl_ca_certs;
  int ssl_cert_reqs = 0;                      // Python's ssl.CERT_NONE / OPTIONAL / REQUIRED = 0 / 1 / 2
  std::string root_path;
};

void add_frontend_flags(CLI::App& cmd, FrontendArgs& args);

// Validates and returns the resolved values as JSON (--dry-run; `rotor serve` reads the CORS
// lists from it).
nlohmann::ordered_json resolve_frontend(const FrontendArgs& args);

}  // namespace rotor::app
