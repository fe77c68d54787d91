// server/asio.h — Boost.Asio (with its OpenSSL streams) and Boost.Beast for the HTTP front
// end (Debian's Boost 1.74, C++20 coroutines), with the short names the front end uses.
// Boost 1.74's awaitable.hpp uses std::exchange without including <utility>, hence the
// include first.
#pragma once
#include <utility>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace rotor::server {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = boost::asio::ip::tcp;
using error_code = boost::system::error_code;

}  // namespace rotor::server
