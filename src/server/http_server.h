// server/http_server.h — the event-driven HTTP/1.1 front end (Boost.Beast on Asio, C++20
// coroutines): a few I/O threads serve every connection (no thread per connection), a small
// pool of worker threads runs the CPU-heavy part of API requests (JSON, chat templates,
// tokenization), so cheap routes (/health, /metrics) stay prompt under any load. Deadlines
// for a request's headers and body and for idle keep-alive connections, a cap on open
// connections (past it a 503, though health and metrics are still answered), body limits on
// the decoded body, pipelined requests answered in order, streamed replies that wait for a
// slow reader without holding anyone else up, and a client that goes away aborts its request.
// CORS (preflights answered here, headers on every cross-origin reply), TLS, --root-path.
#pragma once
#include <cstdint>
#include <memory>
#include <string>

#include "server/cors.h"
#include "server/http_types.h"

namespace rotor::server {

// --ssl-keyfile / --ssl-certfile / --ssl-ca-certs / --ssl-cert-reqs (Python's ssl.CERT_*).
struct TlsOptions {
  std::string keyfile, certfile;  // both set: serve HTTPS
  std::string ca_certs;           // client certificates are checked against these
  int cert_reqs = 0;              // 0 none, 1 optional, 2 required
  bool enabled() const { return !certfile.empty(); }
};

struct HttpOptions {
  std::string host = "0.0.0.0";
  int port = 8000;                          // 0: any free port
  int max_connections = 4096;               // open connections; past it 503 (health, metrics answered)
  int64_t max_body_bytes = int64_t{8} << 20;  // a request body, after chunked / gzip / deflate decoding
  int max_header_bytes = 32 << 10;          // request line and headers
  double timeout_keep_alive_s = 5;          // an idle connection between requests
  double timeout_read_s = 30;               // a request's headers and body, from its first byte
  double timeout_write_s = 60;              // a write the client does not take
  int io_threads = 0;                       // 0: from the number of cores
  int worker_threads = 0;                   // 0: from the number of cores
  CorsOptions cors;                         // cross-origin requests and preflights
  TlsOptions tls;                           // HTTPS when set
  std::string root_path;                    // --root-path: a prefix a proxy may leave on the path
};

class HttpServer {
 public:
  HttpServer(HttpHandler& handler, HttpOptions options);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Opens the listening socket; rotor::Error if the address is taken.
  void bind();
  int port() const;
  // Serves until stop(): returns once every connection has ended (or after a grace period).
  void run();
  // From any thread, any number of times: stop accepting, close idle connections, let the
  // replies in progress end (the caller aborts their engine requests), then return from run().
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace rotor::server
