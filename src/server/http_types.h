// server/http_types.h — what passes between the HTTP front end (http_server, http_connection)
// and the API (server.cpp, the endpoints): a request whose body is already read, bounded and
// decoded; a reply that is either complete or made from engine output as it arrives
// (ReplyStream); and the handler interface the front end calls.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace rotor::server {

struct HttpRequest {
  std::string method;         // "GET", "POST", ...
  std::string path;           // the target without its query string
  std::string authorization;  // the Authorization header ("" if absent)
  std::string body;           // decoded (chunked, gzip, deflate) and within the body limit
};

// A response body produced from engine output: the connection calls pump() whenever the
// function given to on_output() has been called, on one thread at a time, and writes what
// pump() appended (at once for an event stream, at the end otherwise).
class ReplyStream {
 public:
  virtual ~ReplyStream() = default;
  // text/event-stream (written as it comes, chunked) or one JSON body at the end.
  virtual bool event_stream() const = 0;
  // fn is called from the engine's thread when output may be ready; it must not block.
  virtual void on_output(std::function<void()> fn) = 0;
  // Takes the ready output without waiting and appends the bytes it makes to `out`. True once
  // the body is complete. Never throws: failures become part of the body.
  virtual bool pump(std::string& out) = 0;
  // The HTTP status of a complete non-streamed body (an error body when the engine failed).
  virtual int status() const { return 200; }
  // The client went away: abort what is still generating.
  virtual void abort() = 0;
};

struct Reply {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  int retry_after_s = 0;                // > 0: a Retry-After header
  std::string allow;                    // 405: the Allow header
  std::vector<std::pair<std::string, std::string>> headers;  // any others
  std::unique_ptr<ReplyStream> stream;  // set: the body comes from it, not `body`
};

class HttpHandler {
 public:
  virtual ~HttpHandler() = default;
  // Cheap requests (health, metrics, version, models, errors) are answered on the I/O
  // threads; the rest (parsing, templates, tokenization) on the worker threads.
  virtual bool is_light(const HttpRequest& r) const = 0;
  // Answers a request; never throws (errors become OpenAI error replies).
  virtual Reply handle(const HttpRequest& r) = 0;
};

// A JSON error reply in OpenAI's shape.
Reply error_reply(int status, const std::string& message);

}  // namespace rotor::server
