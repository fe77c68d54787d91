// server/server.h — the OpenAI-compatible HTTP server over an Engine and a tokenizer:
// /v1/chat/completions, /v1/completions, /v1/models, /health, /version, /tokenize,
// /detokenize, /metrics (cpp-httplib, one pool thread per open connection).
#pragma once
#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "engine/engine.h"
#include "server/request.h"
#include "tokenizer/tokenizer.h"

namespace httplib {
class Server;
}

namespace rotor {
class ChatTemplate;
}

namespace rotor::structured {
class CompiledGrammar;
}

namespace rotor::server {

class GrammarCache;

struct ServerOptions {
  std::string host = "0.0.0.0";
  int port = 8000;
  std::vector<std::string> model_names;   // accepted as `model`; the first is reported
  std::string model_root;                 // /v1/models "root": the model directory or a description
  std::string api_key;                    // empty: no authentication
  bool reasoning_parser = false;          // --reasoning-parser qwen3
  SamplingDefaults sampling_defaults;
  int max_n = 16;                         // choices per request
  int num_threads = 0;                    // 0: from the engine's max_num_seqs
  std::string version;                    // GET /version
};

class Server {
 public:
  Server(Engine& engine, std::shared_ptr<const Tokenizer> tokenizer, std::shared_ptr<const ChatTemplate> chat_template,
         ServerOptions options);
  ~Server();

  // Binds (port 0 picks a free port); rotor::Error if the address is taken.
  void bind();
  int port() const { return bound_port_; }
  // Serves until stop(); call bind() first.
  void run();
  // From any thread (a signal watcher): refuse new requests, abort running ones, stop.
  void stop();
  bool running() const;  // listening (stop() before run() starts listening must be repeated)

  // The parts of the server the request handlers use.
  Engine& engine() { return engine_; }
  const Tokenizer& tokenizer() const { return *tokenizer_; }
  bool has_chat_template() const { return chat_template_ != nullptr; }
  const ChatTemplate& chat_template() const { return *chat_template_; }
  const ServerOptions& options() const { return opt_; }
  const RequestLimits& limits() const { return limits_; }
  // 404 unless `model` is absent or one of the served names.
  void check_model(const std::optional<std::string>& model) const;
  // Submits and registers the request for stop(); 503 once stopping.
  RequestHandle submit(EngineRequest request);
  // The compiled grammar of a request's structured output (nullptr for none; cached);
  // rotor::Error (400) naming what it cannot handle.
  std::shared_ptr<const structured::CompiledGrammar> grammar(const StructuredSpec& spec);
  void release(uint64_t request_id);
  std::string metrics_page() const;

 private:
  void register_routes();

  Engine& engine_;
  std::shared_ptr<const Tokenizer> tokenizer_;
  std::shared_ptr<const ChatTemplate> chat_template_;
  ServerOptions opt_;
  RequestLimits limits_;
  std::unique_ptr<GrammarCache> grammars_;
  std::unique_ptr<httplib::Server> http_;
  int bound_port_ = 0;
  int listen_fd_ = -1;  // owned by http_
  std::mutex mu_;
  bool stopping_ = false;
  std::set<uint64_t> active_;              // engine request ids being served
};

}  // namespace rotor::server
