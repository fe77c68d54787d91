// tests/server/test_responses_api.cpp — /v1/responses through the real API layer (Server,
// request parsing, Qwen3 chat template and tokenizer, reasoning and tool-call parsers,
// Generation) over an engine whose runner plays a fixed answer: a random model cannot be
// made to call a tool, this can. The output items (reasoning, message, function_call), usage
// with reasoning tokens, and the streamed event sequence that rebuilds the same items.
#include <gtest/gtest.h>

#include <thread>

#include "engine/engine.h"
#include "engine/step_runner.h"
#include "server/server.h"
#include "tokenizer/chat_template.h"

namespace rotor::server {
namespace {

// Answers every request with the same token sequence, one token per sampling step.
class ScriptedRunner final : public StepRunner {
 public:
  explicit ScriptedRunner(std::vector<int32_t> script) : script_(std::move(script)) {}
  std::unique_ptr<PreparedStep> prepare(const SchedulerOutput& out) override {
    auto step = std::make_unique<Step>();
    step->out = out;
    return step;
  }
  RunnerOutput execute(PreparedStep& prepared) override {
    const SchedulerOutput& out = static_cast<Step&>(prepared).out;
    for (uint64_t id : out.finished_req_ids) next_.erase(id);
    RunnerOutput res;
    for (const ScheduledRequest& s : out.scheduled) {
      SampledToken t;
      t.req_id = s.req_id;
      if (s.sample) t.token = script_[next_[s.req_id]++ % script_.size()];
      res.outputs.push_back(std::move(t));
    }
    return res;
  }

 private:
  struct Step final : PreparedStep {
    SchedulerOutput out;
  };
  std::vector<int32_t> script_;
  std::unordered_map<uint64_t, size_t> next_;
};

const std::string kAnswer =
    "<think>\nThe user asks for weather.\n</think>\n\nLet me look.<tool_call>\n{\"name\": \"get_weather\", "
    "\"arguments\": {\"city\": \"Paris\"}}\n</tool_call>";

class ResponsesApi : public ::testing::Test {
 protected:
  void SetUp() override {
    tokenizer_ = Tokenizer::embedded_qwen3();
    const int32_t im_end = *tokenizer_->token_to_id("<|im_end|>");
    script_ = tokenizer_->encode(kAnswer);
    script_.push_back(im_end);
    EngineConfig c;
    c.max_num_seqs = 4;
    c.max_num_batched_tokens = 512;
    EngineLimits lim;
    lim.max_model_len = 1024;
    lim.vocab_size = 151936;
    lim.num_blocks = 256;
    lim.eos_token_ids = {im_end};
    engine_ = std::make_unique<Engine>(c, lim, std::make_unique<ScriptedRunner>(script_));
    ServerOptions o;
    o.model_names = {"scripted"};
    o.reasoning_parser = true;
    server_ = std::make_unique<Server>(*engine_, tokenizer_, ChatTemplate::embedded_qwen3(), o);
  }

  // The whole reply body of a request, driven as the connection drives it.
  std::pair<int, std::string> post(const json& body) {
    Reply reply = server_->handle(HttpRequest{"POST", "/v1/responses", "", body.dump()});
    if (!reply.stream) return {reply.status, reply.body};
    std::string out;
    while (!reply.stream->pump(out)) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    return {reply.stream->status(), out};
  }

  std::shared_ptr<const Tokenizer> tokenizer_;
  std::vector<int32_t> script_;
  std::unique_ptr<Engine> engine_;
  std::unique_ptr<Server> server_;
};

const json kRequest = {
    {"model", "scripted"},
    {"instructions", "Use tools."},
    {"input", json::array({{{"role", "user"}, {"content", "Weather in Paris?"}}})},
    {"tools", json::array({{{"type", "function"},
                            {"name", "get_weather"},
                            {"parameters", {{"type", "object"}, {"properties", {{"city", {{"type", "string"}}}}}}}}})}};

TEST_F(ResponsesApi, ReasoningMessageAndFunctionCallItems) {
  const auto [status, text] = post(kRequest);
  ASSERT_EQ(status, 200) << text;
  const json r = json::parse(text);
  EXPECT_EQ(r["object"], "response");
  EXPECT_EQ(r["status"], "completed");
  EXPECT_TRUE(r["id"].get<std::string>().starts_with("resp_"));
  EXPECT_EQ(r["instructions"], "Use tools.");
  EXPECT_EQ(r["tools"], kRequest["tools"]);
  const json& out = r["output"];
  ASSERT_EQ(out.size(), 3u) << out.dump();
  EXPECT_EQ(out[0]["type"], "reasoning");
  EXPECT_EQ(out[0]["content"][0]["text"], "\nThe user asks for weather.\n");
  EXPECT_EQ(out[1]["type"], "message");
  EXPECT_EQ(out[1]["content"][0]["type"], "output_text");
  EXPECT_EQ(out[1]["content"][0]["text"], "\n\nLet me look.");
  EXPECT_EQ(out[2]["type"], "function_call");
  EXPECT_EQ(out[2]["name"], "get_weather");
  EXPECT_EQ(json::parse(out[2]["arguments"].get<std::string>()), json({{"city", "Paris"}}));
  EXPECT_FALSE(out[2]["call_id"].get<std::string>().empty());
  const json& u = r["usage"];
  EXPECT_EQ(u["output_tokens"], static_cast<int>(script_.size()));
  const int think = static_cast<int>(tokenizer_->encode("<think>\nThe user asks for weather.\n</think>").size());
  EXPECT_EQ(u["output_tokens_details"]["reasoning_tokens"], think);
  EXPECT_EQ(u["total_tokens"], u["input_tokens"].get<int>() + u["output_tokens"].get<int>());

  // The function call and its output go back as input: the next prompt holds both.
  json next = kRequest;
  next["input"].push_back(out[2]);
  next["input"].push_back({{"type", "function_call_output"}, {"call_id", out[2]["call_id"]}, {"output", "22 C"}});
  const auto [status2, text2] = post(next);
  ASSERT_EQ(status2, 200) << text2;
  EXPECT_GT(json::parse(text2)["usage"]["input_tokens"].get<int>(), u["input_tokens"].get<int>() + 20);
}

TEST_F(ResponsesApi, StreamedEventsRebuildTheSameItems) {
  json body = kRequest;
  body["stream"] = true;
  const auto [status, text] = post(body);
  ASSERT_EQ(status, 200);
  std::vector<json> events;
  std::vector<std::string> types;
  for (size_t at = 0; (at = text.find("data: ", at)) != std::string::npos;) {
    const size_t end = text.find("\n\n", at);
    events.push_back(json::parse(text.substr(at + 6, end - at - 6)));
    const std::string type = events.back()["type"];
    ASSERT_NE(text.rfind("event: " + type + "\n", at), std::string::npos);
    types.push_back(type);
    at = end;
  }
  for (size_t i = 0; i < events.size(); ++i) EXPECT_EQ(events[i]["sequence_number"], static_cast<int>(i));
  ASSERT_GE(types.size(), 4u);
  EXPECT_EQ(types[0], "response.created");
  EXPECT_EQ(types[1], "response.in_progress");
  EXPECT_EQ(types.back(), "response.completed");
  std::string reasoning, content, args;
  std::vector<json> done_items;
  for (const json& e : events) {
    if (e["type"] == "response.reasoning_text.delta") reasoning += e["delta"].get<std::string>();
    if (e["type"] == "response.output_text.delta") content += e["delta"].get<std::string>();
    if (e["type"] == "response.function_call_arguments.delta") args += e["delta"].get<std::string>();
    if (e["type"] == "response.output_item.done") done_items.push_back(e["item"]);
  }
  EXPECT_EQ(reasoning, "\nThe user asks for weather.\n");
  EXPECT_EQ(content, "\n\nLet me look.");
  EXPECT_EQ(json::parse(args), json({{"city", "Paris"}}));
  const json final_output = events.back()["response"]["output"];
  ASSERT_EQ(done_items.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(done_items[i]["type"], final_output[i]["type"]);
    EXPECT_EQ(done_items[i]["id"], final_output[i]["id"]);
  }
}

TEST_F(ResponsesApi, RefusesWhatItDoesNotDo) {
  for (const auto& [field, value] : std::vector<std::pair<std::string, json>>{
           {"previous_response_id", "resp_1"},
           {"background", true},
           {"include", json::array({"file_search_call.results"})},
           {"truncation", "auto"},
           {"reasoning", {{"effort", "low"}}},
           {"tools", json::array({{{"type", "web_search"}}})},
           {"text", {{"format", {{"type", "json_object"}}}}},
           {"input", json::array({{{"type", "input_image"}}})}}) {
    json body = {{"input", "hi"}};
    body[field] = value;
    const auto [status, text] = post(body);
    EXPECT_EQ(status, 400) << field;
    EXPECT_EQ(json::parse(text)["error"]["param"], field == "input" ? "input[0]" : field) << text;
  }
}

}  // namespace
}  // namespace rotor::server
