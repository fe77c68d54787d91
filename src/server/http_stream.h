// server/http_stream.h — what one connection reads and writes: a TCP socket, or a TLS stream
// (OpenSSL through Asio's ssl::stream) over one, chosen when the connection is accepted.
// Beast's HTTP reads and writes take it as they take a socket; close, cancel and shutdown
// go to the TCP layer. Internal to the HTTP front end.
#pragma once
#include <memory>
#include <optional>

#include "server/asio.h"
#include "server/http_server.h"

namespace rotor::server {

// The server's TLS context (rotor::Error naming the file that cannot be used).
std::unique_ptr<net::ssl::context> make_tls_context(const TlsOptions& options);

class HttpStream {
 public:
  using executor_type = tcp::socket::executor_type;

  // tls: null for plain HTTP.
  HttpStream(tcp::socket socket, net::ssl::context* tls) : plain_(std::move(socket)) {
    if (tls) tls_.emplace(std::move(plain_), *tls);
  }

  executor_type get_executor() { return socket().get_executor(); }
  tcp::socket& socket() { return tls_ ? tls_->next_layer() : plain_; }
  bool tls() const { return tls_.has_value(); }

  template <class Buffers, class Token>
  auto async_read_some(const Buffers& buffers, Token&& token) {
    if (tls_) return tls_->async_read_some(buffers, std::forward<Token>(token));
    return plain_.async_read_some(buffers, std::forward<Token>(token));
  }
  template <class Buffers, class Token>
  auto async_write_some(const Buffers& buffers, Token&& token) {
    if (tls_) return tls_->async_write_some(buffers, std::forward<Token>(token));
    return plain_.async_write_some(buffers, std::forward<Token>(token));
  }
  // The server side of the TLS handshake (TLS only).
  template <class Token>
  auto async_handshake(Token&& token) {
    return tls_->async_handshake(net::ssl::stream_base::server, std::forward<Token>(token));
  }

 private:
  tcp::socket plain_;  // moved into tls_ when there is one
  std::optional<net::ssl::stream<tcp::socket>> tls_;
};

}  // namespace rotor::server
