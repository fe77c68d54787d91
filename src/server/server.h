// server/server.h — the OpenAI-compatible API over an Engine and a tokenizer:
// /v1/chat/completions, /v1/completions, /v1/responses, /v1/models, /health, /ping, /version,
// /tokenize, /detokenize, /metrics; routing, API keys, exceptions → OpenAI errors, admission (the
// waiting-queue bound) and a clean stop. The HTTP side is http_server.h.
#pragma once
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "engine/engine.h"
#include "server/api_keys.h"
#include "server/http_server.h"
#include "server/metrics.h"
#include "server/request.h"
#include "tokenizer/tokenizer.h"

namespace rotor {
class ChatTemplate;
}

namespace rotor::structured {
class CompiledGrammar;
}

namespace rotor::server {

class GrammarCache;

struct ServerOptions {
  HttpOptions http;                       // address, connection cap, body limit, deadlines, threads
  std::vector<std::string> model_names;   // accepted as `model`; the first is reported
  std::string model_root;                 // /v1/models "root": the model directory or a description
  std::vector<std::string> api_keys;      // empty: no authentication (routes under /v1 otherwise)
  bool reasoning_parser = false;          // --reasoning-parser qwen3
  SamplingDefaults sampling_defaults;
  int max_n = 16;                         // choices per request
  int max_prompts = 256;                  // prompts in one completions request
  int max_waiting_requests = 2048;        // --max-waiting-requests: past it, 503 + Retry-After
  std::string version;                    // GET /version
  bool log_requests = false;              // --enable-log-requests: one log line per request
  int max_log_len = -1;                   // --max-log-len: prompt characters / ids logged; -1 = all
  bool prompt_tokens_details = false;     // --enable-prompt-tokens-details: usage.prompt_tokens_details
};

class Server final : public HttpHandler {
 public:
  Server(Engine& engine, std::shared_ptr<const Tokenizer> tokenizer, std::shared_ptr<const ChatTemplate> chat_template,
         ServerOptions options);
  ~Server() override;

  // Binds (port 0 picks a free port); rotor::Error if the address is taken.
  void bind();
  int port() const;
  // Serves until stop(); call bind() first.
  void run();
  // From any thread, any number of times (a signal watcher): refuse new requests, abort
  // running ones (their replies end with finish_reason abort), then run() returns.
  void stop();

  // HttpHandler.
  bool is_light(const HttpRequest& r) const override;
  Reply handle(const HttpRequest& r) override;

  // The parts of the server the request handlers use.
  Engine& engine() { return engine_; }
  const Tokenizer& tokenizer() const { return *tokenizer_; }
  bool has_chat_template() const { return chat_template_ != nullptr; }
  const ChatTemplate& chat_template() const { return *chat_template_; }
  const ServerOptions& options() const { return opt_; }
  const RequestLimits& limits() const { return limits_; }
  // 404 unless `model` is absent or one of the served names.
  void check_model(const std::optional<std::string>& model) const;
  // Submits the engine requests of one API request, all or none: 503 once stopping, 503 with
  // Retry-After when the waiting queue is full (see admissible), 400 if the engine refuses one.
  std::vector<RequestHandle> submit(std::vector<EngineRequest> requests);
  // The compiled grammar of a request's structured output (nullptr for none; cached);
  // rotor::Error (400) naming what it cannot handle.
  std::shared_ptr<const structured::CompiledGrammar> grammar(const StructuredSpec& spec);
  void release(uint64_t request_id);  // an engine request's reply no longer needs it
  std::string metrics_page() const;
  // One prompt's choices are done: n and the most tokens one of them generated.
  void record_finished_group(int n, int max_generation_tokens);

 private:
  Reply route(const HttpRequest& r);

  Engine& engine_;
  std::shared_ptr<const Tokenizer> tokenizer_;
  std::shared_ptr<const ChatTemplate> chat_template_;
  ServerOptions opt_;
  RequestLimits limits_;
  ApiKeys api_keys_;
  std::unique_ptr<GrammarCache> grammars_;
  std::mutex mu_;
  bool stopping_ = false;
  std::set<uint64_t> active_;              // engine request ids being served
  mutable std::mutex stats_mu_;
  FrontendStats stats_;
  std::unique_ptr<HttpServer> http_;       // last: goes first, while the rest is still here
};

}  // namespace rotor::server
