// server/server.cpp — the HTTP server: routes, API-key check, exceptions → OpenAI error
// bodies, the connection thread pool, and a clean stop.
#include "server/server.h"
#include "server/grammar_cache.h"

#include <sys/socket.h>

#include <chrono>

#include <httplib.h>

#include "core/check.h"
#include "core/log.h"
#include "server/api_error.h"
#include "server/endpoints.h"
#include "server/json.h"
#include "server/metrics.h"

namespace rotor::server {
namespace {

void send_json(httplib::Response& res, int status, const json& body) {
  res.status = status;
  res.set_content(dump_json(body), "application/json");
}

using Handler = void (*)(Server&, const httplib::Request&, httplib::Response&);

}  // namespace

Server::Server(Engine& engine, std::shared_ptr<const Tokenizer> tokenizer,
               std::shared_ptr<const ChatTemplate> chat_template, ServerOptions options)
    : engine_(engine),
      tokenizer_(std::move(tokenizer)),
      chat_template_(std::move(chat_template)),
      opt_(std::move(options)),
      grammars_(std::make_unique<GrammarCache>(tokenizer_, engine.limits().vocab_size, engine.limits().eos_token_ids)),
      http_(std::make_unique<httplib::Server>()) {
  ROTOR_CHECK(!opt_.model_names.empty(), "the server needs a model name");
  limits_.max_logprobs = engine.limits().max_logprobs;
  limits_.vocab_size = engine.limits().vocab_size;
  limits_.max_n = opt_.max_n;
  // One thread per open connection: every running request plus room for queued ones,
  // health checks and metrics scrapes.
  const int threads = opt_.num_threads > 0 ? opt_.num_threads : std::max(64, engine.config().max_num_seqs) + 64;
  http_->new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<size_t>(threads)); };
  http_->set_keep_alive_max_count(100000);
  http_->set_keep_alive_timeout(5);
  http_->set_tcp_nodelay(true);  // every SSE chunk leaves at once (no Nagle / delayed-ACK stalls)
  http_->set_socket_options([this](int sock) {
    httplib::default_socket_options(sock);
    listen_fd_ = sock;  // the listening socket: bind() widens its backlog
  });
  http_->set_read_timeout(60);
  http_->set_write_timeout(60);
  http_->set_payload_max_length(size_t{64} << 20);
  register_routes();
}

Server::~Server() = default;

void Server::register_routes() {
  auto wrap = [this](Handler fn) {
    return [this, fn](const httplib::Request& req, httplib::Response& res) {
      try {
        fn(*this, req, res);
      } catch (const ApiError& e) {
        send_json(res, e.status(), e.body());
      } catch (const json::exception& e) {
        send_json(res, 400, error_body(400, e.what()));
      } catch (const rotor::Error& e) {
        send_json(res, 400, error_body(400, e.what()));
      } catch (const std::exception& e) {
        ROTOR_LOG_ERROR("{} {}: {}", req.method, req.path, e.what());
        send_json(res, 500, error_body(500, e.what()));
      }
    };
  };
  http_->set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    if (opt_.api_key.empty() || !req.path.starts_with("/v1")) return httplib::Server::HandlerResponse::Unhandled;
    if (req.get_header_value("Authorization") == "Bearer " + opt_.api_key)
      return httplib::Server::HandlerResponse::Unhandled;
    send_json(res, 401, error_body(401, "Unauthorized: a missing or wrong API key (Authorization: Bearer ...)"));
    return httplib::Server::HandlerResponse::Handled;
  });
  http_->set_error_handler(httplib::Server::HandlerWithResponse([](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
    const std::string message = res.status == 404   ? "Not Found: " + req.method + " " + req.path
                                : res.status == 413 ? "the request body is too large"
                                                    : "HTTP error " + std::to_string(res.status);
    send_json(res, res.status, error_body(res.status, message));
    return httplib::Server::HandlerResponse::Handled;
  }));
  http_->set_logger([](const httplib::Request& req, const httplib::Response& res) {
    ROTOR_LOG_DEBUG("{} {} -> {}", req.method, req.path, res.status);
  });
  http_->Post("/v1/chat/completions", wrap(chat_completions));
  http_->Post("/v1/completions", wrap(completions));
  http_->Get("/v1/models", wrap(list_models));
  http_->Post("/tokenize", wrap(tokenize));
  http_->Post("/detokenize", wrap(detokenize));
  http_->Get("/health", [](const httplib::Request&, httplib::Response& res) { res.status = 200; });
  http_->Get("/version", [this](const httplib::Request&, httplib::Response& res) {
    send_json(res, 200, {{"version", opt_.version}});
  });
  http_->Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(metrics_page(), "text/plain; version=0.0.4; charset=utf-8");
  });
}

void Server::check_model(const std::optional<std::string>& model) const {
  if (!model) return;
  for (const std::string& name : opt_.model_names)
    if (*model == name) return;
  throw ApiError(404, "The model `" + *model + "` does not exist.", "model");
}

std::shared_ptr<const structured::CompiledGrammar> Server::grammar(const StructuredSpec& spec) {
  return grammars_->get(spec);
}

RequestHandle Server::submit(EngineRequest request) {
  {
    std::lock_guard lock(mu_);
    if (stopping_) throw ApiError(503, "the server is shutting down");
  }
  RequestHandle h = engine_.submit(std::move(request));
  std::lock_guard lock(mu_);
  if (stopping_) {
    h.abort();
    throw ApiError(503, "the server is shutting down");
  }
  active_.insert(h.id());
  return h;
}

void Server::release(uint64_t request_id) {
  std::lock_guard lock(mu_);
  active_.erase(request_id);
}

std::string Server::metrics_page() const { return render_metrics(engine_.stats(), opt_.model_names.front()); }

void Server::bind() {
  if (opt_.port == 0) {
    bound_port_ = http_->bind_to_any_port(opt_.host);
    ROTOR_CHECK(bound_port_ > 0, "cannot listen on {} (any port)", opt_.host);
  } else {
    ROTOR_CHECK(http_->bind_to_port(opt_.host, opt_.port), "cannot listen on {}:{} (address in use or not local?)",
                opt_.host, opt_.port);
    bound_port_ = opt_.port;
  }
  // cpp-httplib listens with a backlog of 5: a burst of new connections (a benchmark opening
  // 32 at once) overflows it and some fail. A second listen() only changes the backlog.
  ROTOR_CHECK(listen_fd_ >= 0 && ::listen(listen_fd_, SOMAXCONN) == 0, "cannot widen the listen backlog on {}:{}",
              opt_.host, bound_port_);
}

void Server::run() {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
  }
  http_->listen_after_bind();
}

void Server::stop() {
  std::vector<uint64_t> ids;
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    ids.assign(active_.begin(), active_.end());
  }
  for (uint64_t id : ids) engine_.abort(id);
  http_->stop();
}

bool Server::running() const { return http_->is_running(); }

}  // namespace rotor::server
