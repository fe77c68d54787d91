// server/chat_endpoint.cpp — POST /v1/chat/completions: messages through the chat template,
// generation, and the reply as one JSON body or as SSE chunks (reasoning_content and
// tool_calls split out of the text when asked; vLLM's echo, include_reasoning,
// prompt_logprobs), made as the engine's output arrives.
#include "server/api_error.h"
#include "server/endpoints.h"
#include "server/generation_reply.h"
#include "server/responses.h"
#include "server/server.h"

namespace rotor::server {
namespace {

// The whole answer of one choice (non-streaming).
struct ChatChoice {
  std::string content, reasoning;
  std::vector<ToolCall> tool_calls;
  std::vector<TokenLogprobs> logprobs, prompt_logprobs;
  std::string finish_reason, error;
  json stop_reason;
};

json delta_json(const ChoiceDelta& d, int first_tool_index) {
  json delta = json::object();
  if (!d.reasoning.empty()) delta["reasoning_content"] = d.reasoning;
  if (!d.content.empty()) delta["content"] = d.content;
  if (!d.tool_calls.empty()) delta["tool_calls"] = tool_calls_json(d.tool_calls, first_tool_index);
  return delta;
}

class ChatReply final : public GenerationReply {
 public:
  ChatReply(const Server& s, ChatRequest request, std::unique_ptr<Generation> generation, bool reasoning,
            std::string echo)
      : GenerationReply(std::move(generation), request.gen.stream, request.gen.include_usage),
        s_(s),
        r_(std::move(request)),
        reasoning_(reasoning),
        echo_(std::move(echo)),
        id_("chatcmpl-" + (r_.gen.request_id.empty() ? random_id("") : r_.gen.request_id)) {
    const int n = gen().num_choices();
    started_.assign(n, false);
    tool_index_.assign(n, 0);
    choices_.resize(n);
  }

 private:
  json chunk(json choices) const override {
    json c = {{"id", id_}, {"object", "chat.completion.chunk"}, {"created", created_}, {"model", model()},
              {"choices", std::move(choices)}};
    if (r_.gen.include_usage) c["usage"] = nullptr;
    return c;
  }
  const std::string& model() const { return s_.options().model_names.front(); }

  void emit(int i, ChoiceDelta& d, std::string& out) override {
    if (!r_.include_reasoning) d.reasoning.clear();
    if (d.content.empty() && d.reasoning.empty() && d.tool_calls.empty() && d.logprobs.empty() && !d.finished) return;
    if (!started_[i]) {
      started_[i] = true;
      out += sse_event(chunk(json::array({{{"index", i},
                                           {"delta", {{"role", "assistant"}, {"content", ""}}},
                                           {"logprobs", nullptr},
                                           {"finish_reason", nullptr}}})));
      if (!echo_.empty())
        out += sse_event(chunk(json::array(
            {{{"index", i}, {"delta", {{"content", echo_}}}, {"logprobs", nullptr}, {"finish_reason", nullptr}}})));
    }
    if (d.finish_reason == "error") {
      fail(d.error);
      return;
    }
    const auto& g = r_.gen;
    json choice = {{"index", i}, {"delta", delta_json(d, tool_index_[i])}};
    tool_index_[i] += static_cast<int>(d.tool_calls.size());
    choice["logprobs"] = g.logprobs && !d.logprobs.empty()
                             ? chat_logprobs_json(s_.tokenizer(), d.logprobs, *g.logprobs, g.return_tokens_as_token_ids)
                             : json(nullptr);
    choice["finish_reason"] = d.finished ? json(d.finish_reason) : json(nullptr);
    if (d.finished) choice["stop_reason"] = d.stop_reason;
    json c = chunk(json::array({std::move(choice)}));
    if (g.continuous_usage_stats) c["usage"] = gen().usage();
    out += sse_event(c);
  }

  void collect(int i, ChoiceDelta& d) override {
    ChatChoice& c = choices_[i];
    c.content += d.content;
    c.reasoning += d.reasoning;
    for (auto& t : d.tool_calls) c.tool_calls.push_back(std::move(t));
    for (auto& lp : d.logprobs) c.logprobs.push_back(std::move(lp));
    for (auto& lp : d.prompt_logprobs) c.prompt_logprobs.push_back(std::move(lp));
    if (d.finished) {
      c.finish_reason = d.finish_reason;
      c.stop_reason = d.stop_reason;
      c.error = d.error;
    }
  }

  // The non-streamed body (or the error body when the engine failed).
  std::string body() override {
    json out_choices = json::array();
    for (size_t i = 0; i < choices_.size(); ++i) {
      const ChatChoice& c = choices_[i];
      if (c.finish_reason == "error") {
        set_status(500);
        return dump_json(error_body(500, "the engine failed: " + c.error));
      }
      json message = {{"role", "assistant"}};
      const std::string content = echo_ + c.content;
      message["content"] = content.empty() && !c.tool_calls.empty() ? json(nullptr) : json(content);
      if (reasoning_)
        message["reasoning_content"] = c.reasoning.empty() || !r_.include_reasoning ? json(nullptr) : json(c.reasoning);
      message["tool_calls"] = tool_calls_json(c.tool_calls, 0);
      for (json& t : message["tool_calls"]) t.erase("index");
      const auto& g = r_.gen;
      out_choices.push_back(
          {{"index", i},
           {"message", std::move(message)},
           {"logprobs", g.logprobs ? chat_logprobs_json(s_.tokenizer(), c.logprobs, *g.logprobs,
                                                        g.return_tokens_as_token_ids)
                                   : json(nullptr)},
           {"finish_reason", c.finish_reason},
           {"stop_reason", c.stop_reason}});
    }
    json body = {{"id", id_},
                 {"object", "chat.completion"},
                 {"created", created_},
                 {"model", model()},
                 {"choices", std::move(out_choices)},
                 {"usage", gen().usage()}};
    body["prompt_logprobs"] =
        r_.gen.prompt_logprobs ? prompt_logprobs_json(s_.tokenizer(), choices_.front().prompt_logprobs) : json(nullptr);
    return dump_json(body);
  }

  const Server& s_;
  const ChatRequest r_;
  const bool reasoning_;                // --reasoning-parser: reasoning_content in the reply
  const std::string echo_;              // echo: the last (assistant) message the reply starts with
  const std::string id_;
  const int64_t created_ = unix_seconds();
  std::vector<bool> started_;
  std::vector<int> tool_index_;
  std::vector<ChatChoice> choices_;
};

}  // namespace

Reply chat_completions(Server& s, const HttpRequest& req) {
  ChatRequest r = parse_chat_request(parse_body(req.body), s.options().sampling_defaults, s.limits());
  s.check_model(r.model);
  const std::string prompt = render_chat_prompt(s, r);
  ChoiceOptions co;
  co.stop = r.gen.stop;
  co.include_stop_str_in_output = r.gen.include_stop_str_in_output;
  co.skip_special_tokens = r.gen.skip_special_tokens;
  co.min_tokens = r.gen.min_tokens;
  co.parse_reasoning = s.options().reasoning_parser;
  co.prompt_opened_think = co.parse_reasoning && ReasoningParser::prompt_opens_think(prompt);
  co.parse_tool_calls = r.parse_tool_calls;
  co.single_tool_call = !r.parallel_tool_calls;
  auto gen = std::make_unique<Generation>(s, std::vector<std::vector<int32_t>>{s.tokenizer().encode(prompt)}, r.gen, co);
  // vLLM's echo: the reply starts with the last message when it is the assistant's.
  const json& last = r.messages.back();
  std::string echo = r.echo && last["role"] == "assistant" ? last["content"].get<std::string>() : std::string();
  r.messages = nullptr;  // rendered and tokenized: the reply does not need them
  r.tools = nullptr;
  Reply reply;
  reply.stream = std::make_unique<ChatReply>(s, std::move(r), std::move(gen), co.parse_reasoning, std::move(echo));
  return reply;
}

}  // namespace rotor::server
