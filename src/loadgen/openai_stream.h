// loadgen/openai_stream.h — the OpenAI side of a benchmark request: the JSON body of a streaming
// chat or completions request, and what one streamed chunk ("data: {...}") says.
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

namespace rotor::loadgen {

enum class Endpoint { kChat, kCompletions };

// "chat" | "completions" (or the paths /v1/chat/completions, /v1/completions).
Endpoint parse_endpoint(std::string_view s);
// The request path under the base URL's prefix ("/v1/chat/completions"; with a prefix that
// already ends in "/v1", "<prefix>/chat/completions").
std::string endpoint_path(Endpoint e, std::string_view prefix);

struct RequestOptions {
  std::string model;
  Endpoint endpoint = Endpoint::kChat;
  int max_tokens = 0;
  bool ignore_eos = false;
  std::optional<double> temperature;
  std::optional<double> top_p;
  std::optional<int> top_k;
  nlohmann::json extra_body = nlohmann::json::object();  // merged last (may override anything)
};

// One prompt: plain text, or a chat message list (chat endpoint only).
struct Prompt {
  std::string text;
  nlohmann::json messages;  // null unless the dataset gave messages
  int max_tokens = 0;       // > 0: overrides RequestOptions::max_tokens
  int expected_prompt_tokens = -1;  // what the server should count (-1: not known)
};

// The streaming request body: stream, stream_options.include_usage, max_tokens, sampling,
// ignore_eos (vLLM's extra) when asked.
std::string request_body(const RequestOptions& o, const Prompt& p);

struct Usage {
  int64_t prompt_tokens = -1;
  int64_t completion_tokens = -1;
};

struct StreamChunk {
  bool done = false;        // the data was "[DONE]"
  bool json = false;        // the data parsed as a JSON object
  bool has_output = false;  // a choice carries output (text, content, reasoning, tool calls)
  std::string text;         // generated text in this chunk (content + reasoning, or text)
  std::optional<Usage> usage;
  std::string finish_reason;  // "" unless a choice finished
  std::string error;          // an in-band error reported after HTTP 200 ("" when none)
};

// Parses the data of one SSE event. Never throws: data that is not JSON gives json = false.
StreamChunk parse_stream_chunk(std::string_view data);

}  // namespace rotor::loadgen
