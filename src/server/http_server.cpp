// server/http_server.cpp — the listening socket, the accept loop (with the connection cap),
// the I/O threads and worker pool, the TLS context, and a stop that lets replies in progress
// end.
#include "server/http_server.h"

#include <algorithm>
#include <thread>
#include <vector>

#include "core/check.h"
#include "core/log.h"
#include "server/http_connection.h"

namespace rotor::server {
namespace {

using namespace std::chrono_literals;

constexpr auto kGracePeriod = 5s;  // after stop(), for replies to end before connections are closed
constexpr auto kAcceptRetry = 100ms;  // after an accept error (out of descriptors)

int io_thread_count(const HttpOptions& o) {
  const int hw = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  return o.io_threads > 0 ? o.io_threads : std::clamp(hw / 8, 2, 8);
}

int worker_thread_count(const HttpOptions& o) {
  const int hw = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  return o.worker_threads > 0 ? o.worker_threads : std::clamp(hw / 4, 2, 16);
}

}  // namespace

std::unique_ptr<net::ssl::context> make_tls_context(const TlsOptions& o) {
  auto ctx = std::make_unique<net::ssl::context>(net::ssl::context::tls_server);
  ctx->set_options(net::ssl::context::default_workarounds | net::ssl::context::no_sslv2 |
                   net::ssl::context::no_sslv3 | net::ssl::context::no_tlsv1 | net::ssl::context::no_tlsv1_1);
  error_code ec;
  ctx->use_certificate_chain_file(o.certfile, ec);
  ROTOR_CHECK(!ec, "--ssl-certfile {}: {}", o.certfile, ec.message());
  ctx->use_private_key_file(o.keyfile, net::ssl::context::pem, ec);
  ROTOR_CHECK(!ec, "--ssl-keyfile {}: {} (is it the key of --ssl-certfile?)", o.keyfile, ec.message());
  if (!o.ca_certs.empty()) {
    ctx->load_verify_file(o.ca_certs, ec);
    ROTOR_CHECK(!ec, "--ssl-ca-certs {}: {}", o.ca_certs, ec.message());
  }
  if (o.cert_reqs > 0)
    ctx->set_verify_mode(net::ssl::verify_peer | (o.cert_reqs == 2 ? net::ssl::verify_fail_if_no_peer_cert : 0));
  return ctx;
}

struct HttpServer::Impl {
  HttpOptions options;
  std::unique_ptr<net::ssl::context> tls;  // before ctx, which points at it
  net::thread_pool workers;
  ConnectionContext ctx;  // before ioc: connections left in ioc's queues use it when destroyed
  net::io_context ioc;
  tcp::acceptor acceptor{ioc};
  net::steady_timer grace{ioc};
  std::atomic<bool> stop_requested{false};
  std::vector<std::thread> threads;
  int port = 0;

  Impl(HttpHandler& handler, HttpOptions o)
      : options(std::move(o)),
        tls(options.tls.enabled() ? make_tls_context(options.tls) : nullptr),
        workers(static_cast<size_t>(worker_thread_count(options))),
        ctx(handler, options, workers, tls.get()),
        ioc(io_thread_count(options)) {
    ctx.on_last_closed = [this] { ioc.stop(); };
  }

  net::awaitable<void> accept_loop();
  void begin_stop();
  std::vector<std::shared_ptr<Connection>> live_connections();
};

net::awaitable<void> HttpServer::Impl::accept_loop() {
  // Past the cap a connection is still accepted and answered (health, metrics, else 503);
  // past this many of those, it is closed at once.
  const int max_over_cap = std::max(64, options.max_connections / 16);
  while (!ctx.stopping) {
    error_code ec;
    tcp::socket sock = co_await acceptor.async_accept(net::any_io_executor(net::make_strand(ioc)),
                                                      net::redirect_error(net::use_awaitable, ec));
    if (ec) {
      if (ctx.stopping || !acceptor.is_open()) co_return;
      ROTOR_LOG_WARN("accept: {}", ec.message());
      net::steady_timer wait(ioc, kAcceptRetry);
      co_await wait.async_wait(net::redirect_error(net::use_awaitable, ec));
      continue;
    }
    sock.set_option(tcp::no_delay(true), ec);  // every SSE chunk leaves at once
    const bool over_cap = ctx.open.load() >= options.max_connections;
    if (over_cap && ctx.over_cap.load() >= max_over_cap) {
      sock.close(ec);
      continue;
    }
    Connection::start(std::make_shared<Connection>(ctx, std::move(sock), over_cap));
  }
}

std::vector<std::shared_ptr<Connection>> HttpServer::Impl::live_connections() {
  std::vector<std::shared_ptr<Connection>> out;
  std::lock_guard lock(ctx.mu);
  for (auto& [id, weak] : ctx.live)
    if (auto c = weak.lock()) out.push_back(std::move(c));
  return out;
}

void HttpServer::Impl::begin_stop() {
  ctx.stopping = true;
  error_code ec;
  acceptor.close(ec);
  const auto live = live_connections();
  if (live.empty()) {
    ioc.stop();
    return;
  }
  for (const auto& c : live) c->shutdown();
  grace.expires_after(kGracePeriod);
  grace.async_wait([this](const error_code& e) {
    if (e) return;
    ROTOR_LOG_WARN("closing the connections still open {} s after the stop", kGracePeriod.count());
    for (const auto& c : live_connections()) c->force_close();
    grace.expires_after(1s);
    grace.async_wait([this](const error_code& e2) {
      if (!e2) ioc.stop();
    });
  });
}

HttpServer::HttpServer(HttpHandler& handler, HttpOptions options)
    : impl_(std::make_unique<Impl>(handler, std::move(options))) {}

HttpServer::~HttpServer() {
  impl_->ctx.gate->close();  // the engine's thread no longer posts to connections
  impl_->ioc.stop();
  for (std::thread& t : impl_->threads)
    if (t.joinable()) t.join();
  impl_->workers.join();
  impl_->ctx.on_last_closed = nullptr;
}

void HttpServer::bind() {
  const HttpOptions& o = impl_->options;
  error_code ec;
  tcp::resolver resolver(impl_->ioc);
  const auto results = resolver.resolve(o.host, std::to_string(o.port), tcp::resolver::passive, ec);
  ROTOR_CHECK(!ec && !results.empty(), "cannot listen on {}:{}: {}", o.host, o.port, ec.message());
  const tcp::endpoint ep = results.begin()->endpoint();
  tcp::acceptor& a = impl_->acceptor;
  a.open(ep.protocol(), ec);
  if (!ec) a.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) a.bind(ep, ec);
  if (!ec) a.listen(net::socket_base::max_listen_connections, ec);
  ROTOR_CHECK(!ec, "cannot listen on {}:{} ({})", o.host, o.port, ec.message());
  impl_->port = a.local_endpoint().port();
}

int HttpServer::port() const { return impl_->port; }

void HttpServer::run() {
  Impl& s = *impl_;
  net::co_spawn(s.ioc, s.accept_loop(), net::detached);
  const auto serve = [&s] {
    while (true) {
      try {
        s.ioc.run();
        return;
      } catch (const std::exception& e) {
        ROTOR_LOG_ERROR("HTTP I/O thread: {}", e.what());
      }
    }
  };
  const int n = io_thread_count(s.options);
  for (int i = 1; i < n; ++i) s.threads.emplace_back(serve);
  serve();
  for (std::thread& t : s.threads) t.join();
  s.threads.clear();
}

void HttpServer::stop() {
  if (impl_->stop_requested.exchange(true)) return;
  net::post(impl_->ioc, [s = impl_.get()] { s->begin_stop(); });
}

}  // namespace rotor::server
