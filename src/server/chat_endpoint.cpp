// server/chat_endpoint.cpp — POST /v1/chat/completions: messages through the chat template,
// generation, and the response as one JSON body or as SSE chunks (reasoning_content and
// tool_calls split out of the text when asked).
#include <httplib.h>

#include "server/api_error.h"
#include "server/endpoints.h"
#include "server/generation.h"
#include "server/responses.h"
#include "server/server.h"

namespace rotor::server {
namespace {

// The whole answer of one choice (non-streaming).
struct ChatChoice {
  std::string content, reasoning;
  std::vector<ToolCall> tool_calls;
  std::vector<TokenLogprobs> logprobs;
  std::string finish_reason, error;
  json stop_reason;
};

struct StreamState {
  std::unique_ptr<Generation> gen;
  ChatRequest request;
  std::string id, model;
  int64_t created = 0;
  bool reasoning = false;
};

json chunk(const StreamState& st, json choices) {
  json c = {{"id", st.id}, {"object", "chat.completion.chunk"}, {"created", st.created}, {"model", st.model},
            {"choices", std::move(choices)}};
  if (st.request.gen.include_usage) c["usage"] = nullptr;
  return c;
}

json delta_json(const ChoiceDelta& d, int first_tool_index) {
  json delta = json::object();
  if (!d.reasoning.empty()) delta["reasoning_content"] = d.reasoning;
  if (!d.content.empty()) delta["content"] = d.content;
  if (!d.tool_calls.empty()) delta["tool_calls"] = tool_calls_json(d.tool_calls, first_tool_index);
  return delta;
}

void stream_response(std::shared_ptr<StreamState> st, const Server& s, httplib::Response& res) {
  res.set_header("Cache-Control", "no-cache");
  res.set_chunked_content_provider("text/event-stream", [st, &s](size_t, httplib::DataSink& sink) {
    auto write = [&](const std::string& text) { return sink.write(text.data(), text.size()); };
    const int n = st->gen->num_choices();
    std::vector<bool> started(n, false);
    std::vector<int> tool_index(n, 0);
    std::string failure;
    const auto& gen_opts = st->request.gen;
    auto emit = [&](int i, ChoiceDelta& d) {
      std::string out;
      if (!started[i]) {
        started[i] = true;
        out += sse_event(chunk(*st, json::array({{{"index", i},
                                                   {"delta", {{"role", "assistant"}, {"content", ""}}},
                                                   {"logprobs", nullptr},
                                                   {"finish_reason", nullptr}}})));
      }
      if (d.finish_reason == "error") {
        failure = d.error;
        return write(out);
      }
      json choice = {{"index", i}, {"delta", delta_json(d, tool_index[i])}};
      tool_index[i] += static_cast<int>(d.tool_calls.size());
      choice["logprobs"] = gen_opts.logprobs && !d.logprobs.empty()
                               ? chat_logprobs_json(s.tokenizer(), d.logprobs, *gen_opts.logprobs,
                                                    gen_opts.return_tokens_as_token_ids)
                               : json(nullptr);
      choice["finish_reason"] = d.finished ? json(d.finish_reason) : json(nullptr);
      if (d.finished) choice["stop_reason"] = d.stop_reason;
      json c = chunk(*st, json::array({std::move(choice)}));
      if (gen_opts.continuous_usage_stats) c["usage"] = st->gen->usage();
      out += sse_event(c);
      return write(out);
    };
    auto empty_chunk = [&] { return chunk(*st, json::array()); };
    if (!stream_to_end(*st->gen, emit, failure, gen_opts.include_usage, empty_chunk, write)) return false;
    sink.done();
    return true;
  });
}

}  // namespace

void chat_completions(Server& s, const httplib::Request& req, httplib::Response& res) {
  auto st = std::make_shared<StreamState>();
  st->request = parse_chat_request(parse_body(req.body), s.options().sampling_defaults, s.limits());
  const ChatRequest& r = st->request;
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
  st->gen = std::make_unique<Generation>(s, std::vector<std::vector<int32_t>>{s.tokenizer().encode(prompt)}, r.gen, co);
  st->id = random_id("chatcmpl-");
  st->model = s.options().model_names.front();
  st->created = unix_seconds();
  st->reasoning = co.parse_reasoning;
  if (r.gen.stream) return stream_response(st, s, res);

  std::vector<ChatChoice> choices(st->gen->num_choices());
  while (st->gen->poll([&](int i, ChoiceDelta& d) {
    ChatChoice& c = choices[i];
    c.content += d.content;
    c.reasoning += d.reasoning;
    for (auto& t : d.tool_calls) c.tool_calls.push_back(std::move(t));
    for (auto& lp : d.logprobs) c.logprobs.push_back(std::move(lp));
    if (d.finished) {
      c.finish_reason = d.finish_reason;
      c.stop_reason = d.stop_reason;
      c.error = d.error;
    }
    return true;
  })) {
  }
  json out_choices = json::array();
  for (size_t i = 0; i < choices.size(); ++i) {
    const ChatChoice& c = choices[i];
    if (c.finish_reason == "error") throw ApiError(500, "the engine failed: " + c.error);
    json message = {{"role", "assistant"}};
    message["content"] = c.content.empty() && !c.tool_calls.empty() ? json(nullptr) : json(c.content);
    if (st->reasoning) message["reasoning_content"] = c.reasoning.empty() ? json(nullptr) : json(c.reasoning);
    message["tool_calls"] = tool_calls_json(c.tool_calls, 0);
    for (json& t : message["tool_calls"]) t.erase("index");
    out_choices.push_back({{"index", i},
                           {"message", std::move(message)},
                           {"logprobs", r.gen.logprobs ? chat_logprobs_json(s.tokenizer(), c.logprobs, *r.gen.logprobs,
                                                                            r.gen.return_tokens_as_token_ids)
                                                       : json(nullptr)},
                           {"finish_reason", c.finish_reason},
                           {"stop_reason", c.stop_reason}});
  }
  const json body = {{"id", st->id},
                     {"object", "chat.completion"},
                     {"created", st->created},
                     {"model", st->model},
                     {"choices", std::move(out_choices)},
                     {"usage", st->gen->usage()}};
  res.set_content(dump_json(body), "application/json");
}

}  // namespace rotor::server
