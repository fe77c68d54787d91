// tests/loadgen/test_sse.cpp — the SSE parser (every way a stream can be cut into pieces, line
// endings, comments, multi-line data) and the parsing of OpenAI chunks and request bodies.
#include <gtest/gtest.h>

#include "loadgen/openai_stream.h"
#include "loadgen/sse_parser.h"
#include "core/error.h"

namespace rotor::loadgen {
namespace {

std::vector<SseEvent> parse_in_pieces(std::string_view s, const std::vector<size_t>& cuts) {
  SseParser p;
  std::vector<SseEvent> out;
  size_t prev = 0;
  for (size_t c : cuts) {
    for (SseEvent& e : p.feed(s.substr(prev, c - prev))) out.push_back(std::move(e));
    prev = c;
  }
  for (SseEvent& e : p.feed(s.substr(prev))) out.push_back(std::move(e));
  for (SseEvent& e : p.finish()) out.push_back(std::move(e));
  return out;
}

const std::string kStream =
    ": keep-alive\r\n\r\n"
    "data: {\"a\":1}\r\n\r\n"
    "event: message\ndata:{\"b\":2}\n\n"
    "data: line one\ndata: line two\n\n"
    "data: cr only\r\r"
    "id: 7\nretry: 10\n\n"  // no data: not an event
    "data: [DONE]\n\n";

void expect_stream_events(const std::vector<SseEvent>& ev) {
  ASSERT_EQ(ev.size(), 5u);
  EXPECT_EQ(ev[0].data, "{\"a\":1}");
  EXPECT_EQ(ev[1].data, "{\"b\":2}");  // no space after the colon: kept whole
  EXPECT_EQ(ev[1].event, "message");
  EXPECT_EQ(ev[2].data, "line one\nline two");
  EXPECT_EQ(ev[3].data, "cr only");
  EXPECT_EQ(ev[4].data, "[DONE]");
}

TEST(BenchSse, WholeStream) { expect_stream_events(parse_in_pieces(kStream, {})); }

TEST(BenchSse, EveryTwoWaySplit) {
  for (size_t c = 0; c <= kStream.size(); ++c) {
    SCOPED_TRACE(c);
    expect_stream_events(parse_in_pieces(kStream, {c}));
  }
}

TEST(BenchSse, ByteByByte) {
  std::vector<size_t> cuts;
  for (size_t c = 1; c < kStream.size(); ++c) cuts.push_back(c);
  expect_stream_events(parse_in_pieces(kStream, cuts));
}

TEST(BenchSse, UnterminatedLastEventComesOutAtFinish) {
  SseParser p;
  EXPECT_TRUE(p.feed("data: {\"x\":1}").empty());
  const std::vector<SseEvent> ev = p.finish();
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].data, "{\"x\":1}");
  EXPECT_TRUE(p.finish().empty());
}

TEST(BenchChunk, ChatDeltas) {
  StreamChunk c = parse_stream_chunk(
      R"({"id":"x","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"role":"assistant","content":"Hi"},"finish_reason":null}]})");
  EXPECT_TRUE(c.json);
  EXPECT_TRUE(c.has_output);
  EXPECT_EQ(c.text, "Hi");
  EXPECT_FALSE(c.usage);
  EXPECT_TRUE(c.finish_reason.empty());

  c = parse_stream_chunk(R"({"choices":[{"index":0,"delta":{"role":"assistant","content":""}}]})");
  EXPECT_TRUE(c.json);
  EXPECT_FALSE(c.has_output);  // the role-only first chunk is not a token

  c = parse_stream_chunk(R"({"choices":[{"delta":{"reasoning_content":"think"}}]})");
  EXPECT_TRUE(c.has_output);
  EXPECT_EQ(c.text, "think");

  c = parse_stream_chunk(R"({"choices":[{"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{"}}]}}]})");
  EXPECT_TRUE(c.has_output);

  c = parse_stream_chunk(R"({"choices":[{"delta":{},"finish_reason":"length"}]})");
  EXPECT_FALSE(c.has_output);
  EXPECT_EQ(c.finish_reason, "length");

  c = parse_stream_chunk(R"({"choices":[],"usage":{"prompt_tokens":16384,"completion_tokens":2048,"total_tokens":18432}})");
  EXPECT_FALSE(c.has_output);
  ASSERT_TRUE(c.usage);
  EXPECT_EQ(c.usage->prompt_tokens, 16384);
  EXPECT_EQ(c.usage->completion_tokens, 2048);
}

TEST(BenchChunk, CompletionsErrorsAndNonJson) {
  StreamChunk c = parse_stream_chunk(R"({"object":"text_completion","choices":[{"index":0,"text":" world"}]})");
  EXPECT_TRUE(c.has_output);
  EXPECT_EQ(c.text, " world");
  c = parse_stream_chunk(R"({"choices":[{"index":0,"text":""}],"usage":null})");
  EXPECT_FALSE(c.has_output);
  EXPECT_FALSE(c.usage);

  c = parse_stream_chunk(" [DONE] ");
  EXPECT_TRUE(c.done);
  EXPECT_FALSE(c.json);
  c = parse_stream_chunk("not json");
  EXPECT_FALSE(c.json);
  c = parse_stream_chunk("[1,2]");
  EXPECT_FALSE(c.json);

  c = parse_stream_chunk(R"({"error":{"message":"out of memory","type":"InternalServerError","code":500}})");
  EXPECT_EQ(c.error, "out of memory");
  c = parse_stream_chunk(R"({"object":"error","message":"bad","code":400})");
  EXPECT_EQ(c.error, "bad");
  c = parse_stream_chunk(R"({"error":"plain"})");
  EXPECT_EQ(c.error, "plain");
  c = parse_stream_chunk(R"({"error":null,"choices":[{"delta":{"content":"x"}}]})");
  EXPECT_TRUE(c.error.empty());
}

TEST(BenchRequest, BodiesAndPaths) {
  RequestOptions o;
  o.model = "m";
  o.max_tokens = 2048;
  o.ignore_eos = true;
  o.temperature = 0.0;
  o.extra_body = {{"top_k", 5}, {"chat_template_kwargs", {{"enable_thinking", false}}}};
  Prompt p;
  p.text = "hello";
  nlohmann::json b = nlohmann::json::parse(request_body(o, p));
  EXPECT_EQ(b["model"], "m");
  EXPECT_EQ(b["messages"], nlohmann::json::parse(R"([{"role":"user","content":"hello"}])"));
  EXPECT_EQ(b["stream"], true);
  EXPECT_EQ(b["stream_options"]["include_usage"], true);
  EXPECT_EQ(b["max_tokens"], 2048);
  EXPECT_EQ(b["ignore_eos"], true);
  EXPECT_EQ(b["temperature"], 0.0);
  EXPECT_EQ(b["top_k"], 5);
  EXPECT_EQ(b["chat_template_kwargs"]["enable_thinking"], false);
  EXPECT_FALSE(b.contains("prompt"));

  o.endpoint = Endpoint::kCompletions;
  o.ignore_eos = false;
  o.extra_body = nlohmann::json::object();
  p.max_tokens = 7;
  b = nlohmann::json::parse(request_body(o, p));
  EXPECT_EQ(b["prompt"], "hello");
  EXPECT_EQ(b["max_tokens"], 7);  // the prompt's own length wins
  EXPECT_FALSE(b.contains("ignore_eos"));
  EXPECT_FALSE(b.contains("messages"));
  p.messages = nlohmann::json::array({{{"role", "user"}, {"content", "x"}}});
  EXPECT_THROW(request_body(o, p), Error);

  EXPECT_EQ(endpoint_path(Endpoint::kChat, ""), "/v1/chat/completions");
  EXPECT_EQ(endpoint_path(Endpoint::kCompletions, "/api/"), "/api/v1/completions");
  EXPECT_EQ(endpoint_path(Endpoint::kChat, "/v1"), "/v1/chat/completions");
  EXPECT_EQ(parse_endpoint("/v1/completions"), Endpoint::kCompletions);
  EXPECT_THROW(parse_endpoint("embeddings"), Error);
}

}  // namespace
}  // namespace rotor::loadgen
