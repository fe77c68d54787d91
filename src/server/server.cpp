// server/server.cpp — routes, the API-key check, exceptions → OpenAI error bodies,
// admission of engine requests (the waiting-queue bound) and a clean stop.
#include "server/server.h"

#include <algorithm>

#include <fmt/format.h>

#include "core/check.h"
#include "core/log.h"
#include "server/api_error.h"
#include "server/endpoints.h"
#include "server/grammar_cache.h"
#include "server/json.h"

namespace rotor::server {
namespace {

Reply json_reply(int status, const json& body) {
  Reply r;
  r.status = status;
  r.body = dump_json(body);
  return r;
}

// 200 while the engine runs; once it failed (a step's error, a tensor-parallel rank's), 500
// with the reason, as vLLM answers when its engine is dead.
Reply health(Server& s, const HttpRequest&) {
  if (const std::string failure = s.engine().failure(); !failure.empty())
    return json_reply(500, error_body(500, "the engine failed: " + failure));
  Reply r;
  r.content_type = "text/plain";
  return r;
}

Reply version(Server& s, const HttpRequest&) { return json_reply(200, {{"version", s.options().version}}); }

Reply metrics(Server& s, const HttpRequest&) {
  Reply r;
  r.content_type = "text/plain; version=0.0.4; charset=utf-8";
  r.body = s.metrics_page();
  return r;
}

struct Route {
  std::string_view path, method;
  Reply (*fn)(Server&, const HttpRequest&);
  bool light;  // answered on the I/O threads
};

constexpr Route kRoutes[] = {
    {"/v1/chat/completions", "POST", chat_completions, false},
    {"/v1/completions", "POST", completions, false},
    {"/v1/responses", "POST", create_response, false},
    {"/v1/models", "GET", list_models, true},
    {"/tokenize", "POST", tokenize, false},
    {"/detokenize", "POST", detokenize, false},
    {"/health", "GET", health, true},
    {"/ping", "GET", health, true},  // SageMaker's health check, as vLLM serves it
    {"/ping", "POST", health, true},
    {"/version", "GET", version, true},
    {"/metrics", "GET", metrics, true},
};

// The route for path and method; else (method_allowed false) any route of the path, or null.
const Route* find_route(std::string_view path, std::string_view method, bool* method_allowed = nullptr) {
  const Route* same_path = nullptr;
  for (const Route& r : kRoutes) {
    if (r.path != path) continue;
    if (r.method == method) {
      if (method_allowed) *method_allowed = true;
      return &r;
    }
    same_path = same_path ? same_path : &r;
  }
  if (method_allowed) *method_allowed = false;
  return same_path;
}

std::string allowed_methods(std::string_view path) {
  std::string out;
  for (const Route& r : kRoutes)
    if (r.path == path) out += (out.empty() ? "" : ", ") + std::string(r.method);
  return out;
}

}  // namespace

Reply error_reply(int status, const std::string& message) { return json_reply(status, error_body(status, message)); }

Server::Server(Engine& engine, std::shared_ptr<const Tokenizer> tokenizer,
               std::shared_ptr<const ChatTemplate> chat_template, ServerOptions options)
    : engine_(engine),
      tokenizer_(std::move(tokenizer)),
      chat_template_(std::move(chat_template)),
      opt_(std::move(options)),
      api_keys_(opt_.api_keys),
      grammars_(std::make_unique<GrammarCache>(tokenizer_, engine.limits().vocab_size, engine.limits().eos_token_ids)),
      http_(std::make_unique<HttpServer>(*this, opt_.http)) {
  ROTOR_CHECK(!opt_.model_names.empty(), "the server needs a model name");
  limits_.max_logprobs = engine.limits().max_logprobs;
  limits_.vocab_size = engine.limits().vocab_size;
  limits_.max_n = opt_.max_n;
  limits_.max_prompts = opt_.max_prompts;
  stats_.max_num_generation_tokens = Histogram::tokens(engine.limits().max_model_len);
}

Server::~Server() = default;

bool Server::is_light(const HttpRequest& r) const {
  bool method_allowed = false;
  const Route* route = find_route(r.path, r.method, &method_allowed);
  return !route || route->light || !method_allowed;
}

Reply Server::handle(const HttpRequest& r) {
  try {
    return route(r);
  } catch (const ApiError& e) {
    Reply rep = json_reply(e.status(), e.body());
    rep.retry_after_s = e.retry_after_s();
    return rep;
  } catch (const json::exception& e) {
    return error_reply(400, e.what());
  } catch (const rotor::Error& e) {
    return error_reply(400, e.what());
  } catch (const std::exception& e) {
    ROTOR_LOG_ERROR("{} {}: {}", r.method, r.path, e.what());
    return error_reply(500, e.what());
  }
}

Reply Server::route(const HttpRequest& r) {
  if (r.path.starts_with("/v1") && !api_keys_.accepts(r.authorization))
    throw ApiError(401, "Unauthorized: a missing or wrong API key (Authorization: Bearer ...)");
  bool method_allowed = false;
  const Route* route = find_route(r.path, r.method, &method_allowed);
  if (!route) throw ApiError(404, "Not Found: " + r.method + " " + r.path);
  if (!method_allowed) {
    const std::string allow = allowed_methods(r.path);
    Reply rep = error_reply(405, fmt::format("Method Not Allowed: {} {} (use {})", r.method, r.path, allow));
    rep.allow = allow;
    return rep;
  }
  return route->fn(*this, r);
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

std::vector<RequestHandle> Server::submit(std::vector<EngineRequest> requests) {
  const EngineStats stats = engine_.stats();
  std::vector<RequestHandle> handles;
  if (const std::string failure = engine_.failure(); !failure.empty())
    throw ApiError(500, "the engine failed: " + failure);
  std::lock_guard lock(mu_);
  if (stopping_) throw ApiError(503, "the server is shutting down");
  // Requests past --max-num-seqs wait; so do those the KV cache has no room for yet (the
  // engine's own count).
  const int64_t k = static_cast<int64_t>(requests.size());
  const int64_t waiting = std::max<int64_t>(static_cast<int64_t>(active_.size()) + k - engine_.config().max_num_seqs,
                                            stats.num_waiting);
  if (waiting > opt_.max_waiting_requests) {
    ApiError e(503, fmt::format("the server is overloaded: more than {} requests would be waiting "
                                "(--max-waiting-requests); retry later",
                                opt_.max_waiting_requests));
    e.set_retry_after(1);
    throw e;
  }
  try {
    for (EngineRequest& r : requests) {
      handles.push_back(engine_.submit(std::move(r)));
      active_.insert(handles.back().id());
    }
  } catch (...) {
    for (RequestHandle& h : handles) {
      h.abort();
      active_.erase(h.id());
    }
    throw;
  }
  return handles;
}

void Server::release(uint64_t request_id) {
  std::lock_guard lock(mu_);
  active_.erase(request_id);
}

std::string Server::metrics_page() const {
  FrontendStats f;
  {
    std::lock_guard lock(stats_mu_);
    f = stats_;
  }
  return render_metrics(engine_.stats(), f, opt_.model_names.front());
}

void Server::record_finished_group(int n, int max_generation_tokens) {
  std::lock_guard lock(stats_mu_);
  stats_.params_n.observe(n);
  stats_.max_num_generation_tokens.observe(max_generation_tokens);
}

void Server::bind() { http_->bind(); }

int Server::port() const { return http_->port(); }

void Server::run() {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
  }
  http_->run();
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

}  // namespace rotor::server
