// loadgen/http_client.cpp — a streaming request over cpp-httplib: the content receiver feeds the
// SSE parser as bytes arrive and stamps every event with the time its bytes were received.
#include "loadgen/http_client.h"

#include <httplib.h>

#include "loadgen/openai_stream.h"
#include "loadgen/sse_parser.h"
#include "core/check.h"

namespace rotor::loadgen {

BaseUrl parse_base_url(std::string_view url) {
  const size_t scheme_end = url.find("://");
  ROTOR_CHECK(scheme_end != std::string_view::npos, "--base-url: '{}' is not http://host:port", url);
  const std::string_view scheme = url.substr(0, scheme_end);
  ROTOR_CHECK(scheme == "http" || scheme == "https", "--base-url: scheme '{}' is not http or https", scheme);
  const size_t host_begin = scheme_end + 3;
  const size_t slash = url.find('/', host_begin);
  BaseUrl b;
  b.origin = std::string(url.substr(0, slash));
  ROTOR_CHECK(b.origin.size() > host_begin, "--base-url: '{}' has no host", url);
  if (slash != std::string_view::npos) b.prefix = std::string(url.substr(slash));
  while (!b.prefix.empty() && b.prefix.back() == '/') b.prefix.pop_back();
  return b;
}

namespace {

void set_timeout(double s, const std::function<void(time_t, time_t)>& set) {
  const auto us = static_cast<int64_t>(s * 1e6);
  set(static_cast<time_t>(us / 1000000), static_cast<time_t>(us % 1000000));
}

}  // namespace

StreamClient::StreamClient(const BaseUrl& url, const ClientOptions& o)
    : cli_(std::make_unique<httplib::Client>(url.origin)) {
  ROTOR_CHECK(cli_->is_valid(), "--base-url: cannot make a client for '{}'", url.origin);
  cli_->set_keep_alive(true);
  cli_->set_tcp_nodelay(true);
  set_timeout(o.connect_timeout_s, [&](time_t s, time_t us) { cli_->set_connection_timeout(s, us); });
  set_timeout(o.read_timeout_s, [&](time_t s, time_t us) { cli_->set_read_timeout(s, us); });
  if (!o.api_key.empty()) cli_->set_bearer_token_auth(o.api_key);
}

StreamClient::~StreamClient() = default;

RequestRecord StreamClient::send(const std::string& path, const std::string& body, Clock::time_point t0,
                                 std::atomic<int64_t>* live_chunks) {
  auto now = [t0] { return std::chrono::duration<double>(Clock::now() - t0).count(); };
  RequestRecord r;
  SseParser sse;
  bool streaming = false, saw_usage = false;
  std::string content_type, error_body;

  auto on_events = [&](std::vector<SseEvent> events, double t) {
    for (SseEvent& ev : events) {
      const StreamChunk c = parse_stream_chunk(ev.data);
      if (!c.json) continue;  // "[DONE]", or not JSON: evalscope skips these too
      ++r.chunks;
      r.end = t;
      if (!c.error.empty() && r.error.empty()) r.error = "error in stream: " + c.error;
      if (c.has_output) {
        r.output_times.push_back(t);
        r.output_chars += static_cast<int64_t>(c.text.size());
        if (live_chunks) live_chunks->fetch_add(1, std::memory_order_relaxed);
      }
      if (!c.finish_reason.empty()) r.finish_reason = c.finish_reason;
      if (c.usage) {
        saw_usage = true;
        if (c.usage->prompt_tokens >= 0) r.prompt_tokens = c.usage->prompt_tokens;
        if (c.usage->completion_tokens >= 0) r.output_tokens = c.usage->completion_tokens;
      }
    }
  };

  httplib::Request req;
  req.method = "POST";
  req.path = path;
  req.body = body;
  req.set_header("Content-Type", "application/json");
  req.set_header("Accept", "text/event-stream");
  req.response_handler = [&](const httplib::Response& res) {
    r.http_status = res.status;
    content_type = res.get_header_value("Content-Type");
    streaming = res.status == 200 && content_type.find("text/event-stream") != std::string::npos;
    return true;
  };
  req.content_receiver = [&](const char* data, size_t n, uint64_t, uint64_t) {
    const double t = now();
    if (streaming)
      on_events(sse.feed(std::string_view(data, n)), t);
    else if (error_body.size() < 4096)
      error_body.append(data, std::min<size_t>(n, 4096 - error_body.size()));
    return true;
  };

  r.start = now();
  httplib::Result res = cli_->send(req);
  const double t_end = now();
  if (streaming) on_events(sse.finish(), t_end);

  if (!res) {
    r.error = "HTTP client error: " + httplib::to_string(res.error()) +
              (r.chunks > 0 ? " (after " + std::to_string(r.chunks) + " chunks)" : "");
  } else if (r.http_status != 200) {
    const StreamChunk c = parse_stream_chunk(error_body);
    r.error = "HTTP " + std::to_string(r.http_status) + ": " + (c.error.empty() ? error_body.substr(0, 300) : c.error);
  } else if (!streaming) {
    r.error = "the server did not stream (Content-Type: " + content_type + ")";
  } else if (r.error.empty() && !saw_usage) {
    r.error = "the stream ended without usage (the server must honour stream_options.include_usage)";
  } else if (r.error.empty() && r.output_tokens < 0) {
    r.error = "usage without completion_tokens";
  }
  r.success = r.error.empty();
  if (!r.success || r.chunks == 0) r.end = t_end;
  return r;
}

}  // namespace rotor::loadgen
