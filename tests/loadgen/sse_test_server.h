// tests/loadgen/sse_test_server.h — a small real HTTP server (cpp-httplib) on a free localhost
// port for the bench client tests: it streams OpenAI-shaped SSE on a script with real sleeps.
// It stands in for the network peer until `rotor serve` exists.
#pragma once
#include <httplib.h>

#include <atomic>
#include <chrono>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

namespace rotor::loadgen::test {

// One step of a scripted stream: wait, then write these bytes.
struct Step {
  int sleep_ms = 0;
  std::string bytes;
};

inline std::string sse(const nlohmann::json& j) { return "data: " + j.dump() + "\n\n"; }
inline std::string chat_token(const std::string& text) {
  return sse({{"object", "chat.completion.chunk"}, {"choices", {{{"index", 0}, {"delta", {{"content", text}}}}}}});
}
inline std::string chat_role() {
  return sse({{"object", "chat.completion.chunk"},
              {"choices", {{{"index", 0}, {"delta", {{"role", "assistant"}, {"content", ""}}}}}}});
}
inline std::string chat_finish(const std::string& reason) {
  return sse({{"object", "chat.completion.chunk"},
              {"choices", {{{"index", 0}, {"delta", nlohmann::json::object()}, {"finish_reason", reason}}}}});
}
inline std::string usage(int prompt, int completion) {
  return sse({{"object", "chat.completion.chunk"},
              {"choices", nlohmann::json::array()},
              {"usage", {{"prompt_tokens", prompt}, {"completion_tokens", completion}, {"total_tokens", prompt + completion}}}});
}
inline std::string done() { return "data: [DONE]\n\n"; }

// Streams the steps as text/event-stream; `abort_after` >= 0 drops the connection after that
// many steps (no terminating chunk).
inline void stream(httplib::Response& res, std::vector<Step> steps, int abort_after = -1) {
  res.set_chunked_content_provider("text/event-stream", [steps, abort_after](size_t, httplib::DataSink& sink) {
    for (size_t i = 0; i < steps.size(); ++i) {
      if (abort_after >= 0 && static_cast<int>(i) == abort_after) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(steps[i].sleep_ms));
      if (!sink.write(steps[i].bytes.data(), steps[i].bytes.size())) return false;
    }
    sink.done();
    return true;
  });
}

class SseTestServer {
 public:
  explicit SseTestServer(httplib::Server::Handler post) {
    svr_.new_task_queue = [] { return new httplib::ThreadPool(64); };
    svr_.set_tcp_nodelay(true);
    svr_.Post(".*", std::move(post));
    port_ = svr_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { svr_.listen_after_bind(); });
    while (!svr_.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ~SseTestServer() {
    svr_.stop();
    thread_.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  int port() const { return port_; }

 private:
  httplib::Server svr_;
  int port_ = 0;
  std::thread thread_;
};

}  // namespace rotor::loadgen::test
