// server/http_connection.h — one client connection of the HTTP front end: a coroutine on
// the connection's strand that reads requests one after another (pipelined ones wait in the
// buffer), enforces the deadlines and body limits, hands API requests to the worker pool,
// and writes replies, driving a ReplyStream as engine output arrives; the TLS handshake,
// CORS preflights and headers, the --root-path prefix. Internal to http_server.cpp.
#pragma once
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <unordered_map>

#include "server/asio.h"
#include "server/cors.h"
#include "server/http_server.h"
#include "server/http_stream.h"

namespace rotor::server {

class Connection;

// Lets other threads (the engine's) post to a strand until the server is torn down.
class PostGate {
 public:
  template <class F>
  void post(const net::any_io_executor& ex, F&& f) {
    std::lock_guard lock(mu_);
    if (open_) net::post(ex, std::forward<F>(f));
  }
  void close() {
    std::lock_guard lock(mu_);
    open_ = false;
  }

 private:
  std::mutex mu_;
  bool open_ = true;
};

// What the connections of one server share.
struct ConnectionContext {
  ConnectionContext(HttpHandler& h, const HttpOptions& o, net::thread_pool& w, net::ssl::context* t)
      : handler(h), options(o), workers(w), tls(t), cors(o.cors) {}
  HttpHandler& handler;
  const HttpOptions& options;
  net::thread_pool& workers;
  net::ssl::context* tls;        // null: plain HTTP
  const CorsPolicy cors;
  std::shared_ptr<PostGate> gate = std::make_shared<PostGate>();
  std::atomic<int> open{0};      // connections under the cap
  std::atomic<int> over_cap{0};  // connections past it, being refused
  std::atomic<bool> stopping{false};
  std::function<void()> on_last_closed;  // called when stopping and the last connection ends

  std::mutex mu;
  uint64_t next_id = 0;
  std::unordered_map<uint64_t, std::weak_ptr<Connection>> live;
};

// Wakes a coroutine waiting on a strand; a notify() with nobody waiting is kept for the next wait().
class Wakeup {
 public:
  explicit Wakeup(const net::any_io_executor& ex) : timer_(ex) {}
  void notify() {
    pending_ = true;
    timer_.cancel();
  }
  net::awaitable<void> wait();

 private:
  net::steady_timer timer_;
  bool pending_ = false;
};

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  // over_cap: the server is at --max-connections: answer one light request, refuse the rest.
  Connection(ConnectionContext& ctx, tcp::socket socket, bool over_cap);
  ~Connection();
  static void start(const std::shared_ptr<Connection>& c);
  // Any thread: close now if idle, else after the reply in progress.
  void shutdown();
  // Any thread: close now (the grace period after stop() is over).
  void force_close();

 private:
  static net::awaitable<void> serve(std::shared_ptr<Connection> c);
  net::awaitable<void> run();
  net::awaitable<Reply> handle_on_worker(HttpRequest req);  // runs on the worker pool
  // Reads the next request into `req`, or sets `early` to the reply it gets without being
  // handled (an undecodable body, a CORS preflight). False: the connection is to be closed.
  net::awaitable<bool> read_request(HttpRequest& req, bool& keep_alive, std::optional<Reply>& early);
  net::awaitable<void> answer(HttpRequest req, bool keep_alive);
  net::awaitable<bool> write_reply(Reply reply, bool keep_alive);
  net::awaitable<bool> write_event_stream(ReplyStream& s, bool keep_alive);
  net::awaitable<bool> write_when_complete(ReplyStream& s, bool keep_alive);
  // An error reply, then linger().
  net::awaitable<void> fail(int status, std::string message);
  // A lingering close: the unread rest of a request is drained for a moment, so the client
  // sees the reply rather than a reset.
  net::awaitable<void> linger();
  net::awaitable<bool> write_bytes(net::const_buffer b);

  // Deadline of the current operation: the socket is closed when it passes.
  void arm(double seconds);
  void disarm();
  // While a request is processed: read on, to see a client that goes away (and keep the
  // bytes of pipelined requests).
  void start_watch();
  void watch_more();
  net::awaitable<void> stop_watch();

  ConnectionContext& ctx_;
  HttpStream stream_;
  const bool over_cap_;
  uint64_t id_ = 0;
  beast::flat_buffer buffer_;
  net::steady_timer deadline_;
  uint64_t armed_ = 0;        // which arm() the deadline timer belongs to
  Wakeup wake_;
  unsigned version_ = 11;     // of the request being answered
  bool idle_ = false;         // waiting for a request's first byte
  bool closing_ = false;      // close after the reply in progress
  bool closed_ = false;       // force_close() or a deadline closed the socket
  bool watching_ = false;     // a background read is pending
  bool watch_stop_ = false;
  bool client_gone_ = false;  // the background read saw the end of the connection
  HeaderList cors_headers_;   // added to the reply of the request being answered
};

}  // namespace rotor::server
