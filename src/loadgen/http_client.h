// loadgen/http_client.h — one HTTP connection that sends streaming OpenAI requests and records
// each one (client timestamps per streamed chunk, usage, failures) as a RequestRecord.
#pragma once
#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "loadgen/metrics.h"

namespace httplib {
class Client;
}

namespace rotor::loadgen {

using Clock = std::chrono::steady_clock;

// "http[s]://host[:port][/prefix]" split into the part httplib connects to and the path prefix.
struct BaseUrl {
  std::string origin;  // "http://host:port"
  std::string prefix;  // "" or "/prefix" (no trailing slash)
};
BaseUrl parse_base_url(std::string_view url);

struct ClientOptions {
  std::string api_key;            // sent as "Authorization: Bearer <key>" when not empty
  double connect_timeout_s = 30;
  double read_timeout_s = 3600;   // the longest silence allowed between two received bytes
};

class StreamClient {
 public:
  StreamClient(const BaseUrl& url, const ClientOptions& options);
  ~StreamClient();
  StreamClient(const StreamClient&) = delete;
  StreamClient& operator=(const StreamClient&) = delete;

  // Sends one streaming request (POST path, JSON body) and waits for its end. Times are seconds
  // since t0. Every chunk with output adds one to *live_chunks (when given) as it arrives.
  // Never throws for network or server failures: they come back as success = false.
  RequestRecord send(const std::string& path, const std::string& body, Clock::time_point t0,
                     std::atomic<int64_t>* live_chunks = nullptr);

 private:
  std::unique_ptr<httplib::Client> cli_;
};

}  // namespace rotor::loadgen
