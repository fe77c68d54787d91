// server/http_connection.cpp — one connection's coroutine: read a request (deadlines, limits,
// decoding), answer it (on this strand or the worker pool), write the reply (whole, or as the
// engine produces it), then the next request.
//
// g++ 12 miscompiles some coroutine code (a co_await in an if condition with a temporary
// argument traps; lambda captures handed to co_spawn are destroyed twice): here every
// co_await is a statement or initialises a local, and spawned coroutines are functions.
#include "server/http_connection.h"

#include <strings.h>

#include <algorithm>

#include <fmt/format.h>

#include "core/log.h"
#include "server/body_decoding.h"

namespace rotor::server {
namespace {

using net::redirect_error;
using net::use_awaitable;

constexpr size_t kReadChunk = 16 * 1024;
constexpr size_t kReadAheadBytes = 64 * 1024;  // of pipelined requests while one is processed
constexpr double kLingerSeconds = 2;          // draining an unread request after an error reply
constexpr double kOverCapReadSeconds = 2;     // reading a request past --max-connections

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && strncasecmp(a.data(), b.data(), a.size()) == 0;
}

// --root-path: a proxy may pass the prefix it serves rotor under; routes are matched
// without it (and paths without it still work, as Starlette's root_path does).
std::string without_root_path(std::string_view path, std::string_view root) {
  if (root.empty() || !path.starts_with(root)) return std::string(path);
  const std::string_view rest = path.substr(root.size());
  if (rest.empty()) return "/";
  return rest.front() == '/' ? std::string(rest) : std::string(path);
}

}  // namespace

net::awaitable<void> Wakeup::wait() {
  if (!pending_) {
    timer_.expires_at(net::steady_timer::time_point::max());
    error_code ec;
    co_await timer_.async_wait(redirect_error(use_awaitable, ec));
  }
  pending_ = false;
}

Connection::Connection(ConnectionContext& ctx, tcp::socket socket, bool over_cap)
    : ctx_(ctx),
      stream_(std::move(socket), ctx.tls),
      over_cap_(over_cap),
      deadline_(stream_.get_executor()),
      wake_(stream_.get_executor()) {
  (over_cap_ ? ctx_.over_cap : ctx_.open).fetch_add(1);
}

Connection::~Connection() {
  bool last = false;
  {
    std::lock_guard lock(ctx_.mu);
    ctx_.live.erase(id_);
    last = ctx_.live.empty();
  }
  (over_cap_ ? ctx_.over_cap : ctx_.open).fetch_sub(1);
  if (last && ctx_.stopping && ctx_.on_last_closed) ctx_.on_last_closed();
}

void Connection::start(const std::shared_ptr<Connection>& c) {
  {
    std::lock_guard lock(c->ctx_.mu);
    c->id_ = c->ctx_.next_id++;
    c->ctx_.live[c->id_] = c;
  }
  net::co_spawn(c->stream_.get_executor(), serve(c), net::detached);
}

net::awaitable<void> Connection::serve(std::shared_ptr<Connection> c) {
  try {
    co_await c->run();
  } catch (const std::exception& e) {
    ROTOR_LOG_WARN("connection {}: {}", c->id_, e.what());
  }
  error_code ec;
  c->stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
  c->stream_.socket().close(ec);
  c->disarm();
}

net::awaitable<Reply> Connection::handle_on_worker(HttpRequest req) { co_return ctx_.handler.handle(req); }

void Connection::shutdown() {
  net::post(stream_.get_executor(), [self = shared_from_this()] {
    self->closing_ = true;
    if (self->idle_) {
      error_code ec;
      self->stream_.socket().close(ec);
    }
  });
}

void Connection::force_close() {
  net::post(stream_.get_executor(), [self = shared_from_this()] {
    self->closing_ = self->closed_ = true;
    error_code ec;
    self->stream_.socket().close(ec);
    self->wake_.notify();
  });
}

void Connection::arm(double seconds) {
  const uint64_t mine = ++armed_;
  deadline_.expires_after(std::chrono::duration_cast<net::steady_timer::duration>(std::chrono::duration<double>(seconds)));
  deadline_.async_wait([self = shared_from_this(), mine](const error_code& ec) {
    if (ec || mine != self->armed_) return;
    self->closed_ = true;
    error_code ignored;
    self->stream_.socket().close(ignored);
    self->wake_.notify();
  });
}

void Connection::disarm() {
  ++armed_;
  deadline_.cancel();
}

net::awaitable<void> Connection::run() {
  if (stream_.tls()) {
    error_code ec;
    arm(over_cap_ ? kOverCapReadSeconds : ctx_.options.timeout_read_s);
    co_await stream_.async_handshake(redirect_error(use_awaitable, ec));
    disarm();
    if (ec) co_return;  // not TLS, a certificate refused, or too slow
  }
  while (!closing_ && !closed_) {
    HttpRequest req;
    bool keep_alive = false;
    std::optional<Reply> early;
    const bool got = co_await read_request(req, keep_alive, early);
    if (!got) break;
    if (early) {
      Reply reply = std::move(*early);
      const bool written = co_await write_reply(std::move(reply), keep_alive);
      if (!written) break;
    } else {
      co_await answer(std::move(req), keep_alive);
    }
    if (!keep_alive || closed_) break;
  }
}

net::awaitable<bool> Connection::read_request(HttpRequest& req, bool& keep_alive, std::optional<Reply>& early) {
  const HttpOptions& o = ctx_.options;
  error_code ec;
  cors_headers_.clear();
  // Between requests: the keep-alive deadline runs until the next request's first byte.
  if (buffer_.size() == 0) {
    idle_ = true;
    arm(over_cap_ ? kOverCapReadSeconds : o.timeout_keep_alive_s);
    const size_t n = co_await stream_.async_read_some(buffer_.prepare(kReadChunk), redirect_error(use_awaitable, ec));
    buffer_.commit(n);
    idle_ = false;
    if (ec || closing_) co_return false;
  }
  arm(over_cap_ ? kOverCapReadSeconds : o.timeout_read_s);
  http::request_parser<http::string_body> parser;
  parser.header_limit(static_cast<uint32_t>(o.max_header_bytes));
  parser.body_limit(static_cast<uint64_t>(o.max_body_bytes));
  co_await http::async_read_header(stream_, buffer_, parser, redirect_error(use_awaitable, ec));
  if (ec) {
    if (closed_ || ec == http::error::partial_message || ec == http::error::end_of_stream || ec == net::error::eof)
      co_return false;
    if (ec == http::error::header_limit)
      co_await fail(431, fmt::format("the request line and headers are larger than {} bytes", o.max_header_bytes));
    else
      co_await fail(400, "malformed HTTP request: " + ec.message());
    co_return false;
  }
  const auto& h = parser.get();
  version_ = h.version();
  req.method = std::string(h.method_string());
  const std::string_view target = h.target();
  req.path = without_root_path(target.substr(0, target.find('?')), o.root_path);
  req.authorization = std::string(h[http::field::authorization]);
  keep_alive = h.keep_alive() && !over_cap_ && !closing_;
  const CorsRequest cors{h[http::field::origin], h[http::field::access_control_request_method],
                         h[http::field::access_control_request_headers],
                         h.find(http::field::access_control_request_headers) != h.end(),
                         h.find(http::field::cookie) != h.end()};
  const bool preflight = CorsPolicy::is_preflight(req.method, cors);
  cors_headers_ = preflight ? HeaderList() : ctx_.cors.reply_headers(cors);

  if (over_cap_) {
    // Past --max-connections: health and metrics are still answered, the rest refused.
    disarm();
    Reply r = ctx_.handler.is_light(req) && req.method == "GET"
                  ? ctx_.handler.handle(req)
                  : error_reply(503, fmt::format("the server has too many open connections (--max-connections {}); "
                                                 "retry later",
                                                 o.max_connections));
    if (r.status == 503) r.retry_after_s = 1;
    const bool written = co_await write_reply(std::move(r), false);
    if (written) co_await linger();
    co_return false;
  }
  if (const auto len = parser.content_length(); len && *len > static_cast<uint64_t>(o.max_body_bytes)) {
    co_await fail(413, fmt::format("the request body ({} bytes) is larger than the limit of {} bytes", *len,
                                   o.max_body_bytes));
    co_return false;
  }
  if (iequals(h[http::field::expect], "100-continue") && version_ >= 11 && !parser.is_done()) {
    static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
    const bool written = co_await write_bytes(net::buffer(kContinue.data(), kContinue.size()));
    if (!written) co_return false;
    arm(o.timeout_read_s);
  }
  co_await http::async_read(stream_, buffer_, parser, redirect_error(use_awaitable, ec));
  if (ec) {
    if (ec == http::error::body_limit)
      co_await fail(413, fmt::format("the request body is larger than the limit of {} bytes", o.max_body_bytes));
    else if (!closed_ && ec != http::error::partial_message && ec != net::error::eof)
      co_await fail(400, "malformed HTTP request body: " + ec.message());
    co_return false;
  }
  disarm();
  const std::string encoding(parser.get()[http::field::content_encoding]);
  DecodedBody d = decode_body(encoding, std::move(parser.get().body()), o.max_body_bytes);
  if (d.status != DecodeStatus::Ok) {
    const int status = d.status == DecodeStatus::TooLarge ? 413 : d.status == DecodeStatus::Unsupported ? 415 : 400;
    early = error_reply(status, d.message);
  } else if (preflight) {
    PreflightReply p = ctx_.cors.preflight(cors);
    early.emplace();
    early->status = p.status;
    early->content_type = "text/plain; charset=utf-8";
    early->body = std::move(p.body);
    early->headers = std::move(p.headers);
  }
  req.body = std::move(d.body);
  co_return true;
}

net::awaitable<void> Connection::answer(HttpRequest req, bool keep_alive) {
  if (ctx_.handler.is_light(req)) {
    Reply reply = ctx_.handler.handle(req);
    co_await write_reply(std::move(reply), keep_alive);
    co_return;
  }
  start_watch();
  Reply reply = co_await net::co_spawn(ctx_.workers, handle_on_worker(std::move(req)), use_awaitable);
  if (reply.stream) {
    std::unique_ptr<ReplyStream> s = std::move(reply.stream);
    std::weak_ptr<Connection> weak = weak_from_this();
    s->on_output([gate = ctx_.gate, ex = stream_.get_executor(), weak] {
      gate->post(ex, [weak] {
        if (auto c = weak.lock()) c->wake_.notify();
      });
    });
    bool ok = false;
    if (s->event_stream()) ok = co_await write_event_stream(*s, keep_alive);
    else ok = co_await write_when_complete(*s, keep_alive);
    if (!ok) closed_ = true;
  } else if (client_gone_) {
    closed_ = true;
  } else {
    co_await write_reply(std::move(reply), keep_alive);
  }
  co_await stop_watch();
}

net::awaitable<bool> Connection::write_event_stream(ReplyStream& s, bool keep_alive) {
  const bool chunked = version_ >= 11;
  http::response<http::empty_body> res{http::status::ok, version_};
  res.set(http::field::server, "rotor");
  res.set(http::field::content_type, "text/event-stream");
  res.set(http::field::cache_control, "no-cache");
  for (const auto& [name, value] : cors_headers_) res.insert(name, value);
  res.keep_alive(keep_alive && chunked);
  if (chunked) res.chunked(true);
  http::response_serializer<http::empty_body> sr{res};
  error_code ec;
  arm(ctx_.options.timeout_write_s);
  co_await http::async_write_header(stream_, sr, redirect_error(use_awaitable, ec));
  disarm();
  std::string out;
  bool done = false;
  while (!ec) {
    if (client_gone_ || closed_) break;
    done = s.pump(out);
    if (!out.empty()) {
      arm(ctx_.options.timeout_write_s);
      if (chunked)
        co_await net::async_write(stream_, http::make_chunk(net::buffer(out)), redirect_error(use_awaitable, ec));
      else
        co_await net::async_write(stream_, net::buffer(out), redirect_error(use_awaitable, ec));
      disarm();
      out.clear();
    }
    if (done || ec) break;
    co_await wake_.wait();
  }
  if (!done || ec) {
    s.abort();
    co_return false;
  }
  if (!chunked) co_return false;  // the end of the body is the end of the connection
  arm(ctx_.options.timeout_write_s);
  co_await net::async_write(stream_, http::make_chunk_last(), redirect_error(use_awaitable, ec));
  disarm();
  co_return !ec;
}

net::awaitable<bool> Connection::write_when_complete(ReplyStream& s, bool keep_alive) {
  std::string out;
  while (!s.pump(out)) {
    if (client_gone_ || closed_) {
      s.abort();
      co_return false;
    }
    co_await wake_.wait();
  }
  if (client_gone_ || closed_) co_return false;
  Reply r;
  r.status = s.status();
  r.body = std::move(out);
  const bool written = co_await write_reply(std::move(r), keep_alive);
  co_return written;
}

net::awaitable<bool> Connection::write_reply(Reply reply, bool keep_alive) {
  http::response<http::string_body> res{static_cast<http::status>(reply.status), version_};
  res.set(http::field::server, "rotor");
  res.set(http::field::content_type, reply.content_type);
  if (reply.retry_after_s > 0) res.set(http::field::retry_after, std::to_string(reply.retry_after_s));
  if (!reply.allow.empty()) res.set(http::field::allow, reply.allow);
  for (const auto& [name, value] : reply.headers) res.insert(name, value);
  for (const auto& [name, value] : cors_headers_) res.insert(name, value);
  res.keep_alive(keep_alive);
  res.body() = std::move(reply.body);
  res.prepare_payload();
  error_code ec;
  arm(ctx_.options.timeout_write_s);
  co_await http::async_write(stream_, res, redirect_error(use_awaitable, ec));
  disarm();
  co_return !ec;
}

net::awaitable<bool> Connection::write_bytes(net::const_buffer b) {
  error_code ec;
  arm(ctx_.options.timeout_write_s);
  co_await net::async_write(stream_, b, redirect_error(use_awaitable, ec));
  disarm();
  co_return !ec;
}

net::awaitable<void> Connection::fail(int status, std::string message) {
  Reply r = error_reply(status, message);
  const bool written = co_await write_reply(std::move(r), false);
  if (written) co_await linger();
}

net::awaitable<void> Connection::linger() {
  error_code ec;
  stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
  arm(kLingerSeconds);
  char scratch[kReadChunk];
  while (!ec) {
    co_await stream_.socket().async_read_some(net::buffer(scratch), redirect_error(use_awaitable, ec));
  }
  disarm();
}

void Connection::start_watch() {
  watch_stop_ = false;
  client_gone_ = false;
  watching_ = true;
  watch_more();
}

void Connection::watch_more() {
  if (watch_stop_ || buffer_.size() >= kReadAheadBytes) {
    watching_ = false;
    wake_.notify();
    return;
  }
  stream_.async_read_some(buffer_.prepare(kReadChunk), [self = shared_from_this()](const error_code& ec, size_t n) {
    self->buffer_.commit(n);
    if (ec) {
      // The end of the connection (or a reset) while a request is processed: the client is
      // gone. A cancel from stop_watch() is not.
      if (ec != net::error::operation_aborted || !self->watch_stop_) self->client_gone_ = true;
      self->watching_ = false;
      self->wake_.notify();
      return;
    }
    self->watch_more();
  });
}

net::awaitable<void> Connection::stop_watch() {
  watch_stop_ = true;
  if (watching_) {
    error_code ec;
    stream_.socket().cancel(ec);
    while (watching_) co_await wake_.wait();
  }
}

}  // namespace rotor::server
