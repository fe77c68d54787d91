// server/responses_api.cpp — POST /v1/responses (OpenAI's Responses API): the request runs as
// a chat generation; its output becomes response items (reasoning, the assistant message,
// function calls) in one response object, or, streamed, the event sequence OpenAI's clients
// read: response.created / in_progress, output_item.added, content_part.added,
// output_text.delta (with logprobs when included), reasoning_text.delta,
// function_call_arguments.delta / done, *.done, then response.completed (incomplete, failed).
#include <fmt/format.h>

#include "server/api_error.h"
#include "server/endpoints.h"
#include "server/generation.h"
#include "server/responses.h"
#include "server/server.h"

namespace rotor::server {
namespace {

class ResponsesReply final : public ReplyStream {
 public:
  ResponsesReply(const Server& s, ResponsesRequest request, std::unique_ptr<Generation> gen)
      : s_(s),
        r_(std::move(request)),
        gen_(std::move(gen)),
        id_(r_.chat.gen.request_id.empty() ? random_id("resp_") : r_.chat.gen.request_id) {}

  bool event_stream() const override { return r_.chat.gen.stream; }
  void on_output(std::function<void()> fn) override { gen_->on_output(fn); }
  void abort() override { gen_->abort(); }
  int status() const override { return status_; }

  bool pump(std::string& out) override {
    if (done_) return true;
    out_ = r_.chat.gen.stream ? &out : nullptr;
    if (!started_) {
      started_ = true;
      event("response.created", {{"response", response("in_progress")}});
      event("response.in_progress", {{"response", response("in_progress")}});
    }
    const bool more = gen_->poll([&](int, ChoiceDelta& d) { take(d); });
    if (more && failure_.empty()) return false;
    done_ = true;
    close_item();
    if (!failure_.empty()) {
      gen_->abort();
      if (!out_) {
        status_ = 500;
        out += dump_json(error_body(500, "the engine failed: " + failure_));
        return true;
      }
      json failed = response("failed");
      failed["error"] = {{"code", "server_error"}, {"message", failure_}};
      event("response.failed", {{"response", std::move(failed)}});
      return true;
    }
    const std::string status = finish_reason_ == "length" ? "incomplete" : finish_reason_ == "abort" ? "cancelled"
                                                                                                       : "completed";
    json final_response = response(status);
    if (out_)
      event(status == "incomplete" ? "response.incomplete" : "response.completed", {{"response", final_response}});
    else
      out += dump_json(final_response);
    return true;
  }

 private:
  enum class Open { None, Reasoning, Message };

  // One server-sent event (streaming only): "event: <type>" and its JSON with a sequence number.
  void event(const char* type, json fields) {
    if (!out_) return;
    json e = {{"type", type}, {"sequence_number", seq_++}};
    for (auto& [k, v] : fields.items()) e[k] = std::move(v);
    *out_ += fmt::format("event: {}\ndata: {}\n\n", type, dump_json(e));
  }

  // The response object: the request's settings and the items so far.
  json response(const std::string& status) const {
    const GenerationOptions& g = r_.chat.gen;
    json o = {{"id", id_},
              {"object", "response"},
              {"created_at", created_},
              {"status", status},
              {"background", false},
              {"error", nullptr},
              {"incomplete_details", status == "incomplete" ? json{{"reason", "max_output_tokens"}} : json(nullptr)},
              {"instructions", r_.echo.value("instructions", json(nullptr))},
              {"max_output_tokens", g.max_tokens ? json(*g.max_tokens) : json(nullptr)},
              {"max_tool_calls", nullptr},
              {"metadata", r_.echo.value("metadata", json::object())},
              {"model", s_.options().model_names.front()},
              {"output", status == "in_progress" ? json::array() : output_},
              {"parallel_tool_calls", r_.chat.parallel_tool_calls},
              {"previous_response_id", nullptr},
              {"prompt", nullptr},
              {"reasoning", nullptr},
              {"service_tier", r_.echo.value("service_tier", json("auto"))},
              {"store", false},
              {"temperature", g.temperature},
              {"text", r_.echo.value("text", json{{"format", {{"type", "text"}}}})},
              {"tool_choice", r_.echo["tool_choice"]},
              {"tools", r_.echo["tools"]},
              {"top_logprobs", r_.echo["top_logprobs"]},
              {"top_p", g.top_p},
              {"truncation", "disabled"},
              {"usage", nullptr},
              {"user", r_.echo.value("user", json(nullptr))}};
    if (status != "in_progress")
      o["usage"] = {{"input_tokens", gen_->prompt_tokens()},
                    {"input_tokens_details", {{"cached_tokens", gen_->cached_tokens()}}},
                    {"output_tokens", gen_->completion_tokens()},
                    {"output_tokens_details", {{"reasoning_tokens", gen_->reasoning_tokens()}}},
                    {"total_tokens", gen_->prompt_tokens() + gen_->completion_tokens()}};
    return o;
  }

  json text_logprobs(const std::vector<TokenLogprobs>& lps) const {
    if (!r_.include_logprobs) return json::array();
    const GenerationOptions& g = r_.chat.gen;
    return chat_logprobs_json(s_.tokenizer(), lps, *g.logprobs, g.return_tokens_as_token_ids)["content"];
  }

  // Opens an item of `kind` (closing another open one first).
  void open_item(Open kind) {
    if (open_ == kind) return;
    close_item();
    open_ = kind;
    item_id_ = random_id(kind == Open::Reasoning ? "rs_" : "msg_");
    text_.clear();
    logprobs_ = json::array();
    const int index = static_cast<int>(output_.size());
    if (kind == Open::Reasoning) {
      event("response.output_item.added",
            {{"output_index", index},
             {"item", {{"id", item_id_}, {"type", "reasoning"}, {"summary", json::array()}, {"content", json::array()},
                       {"status", "in_progress"}}}});
    } else {
      event("response.output_item.added",
            {{"output_index", index},
             {"item", {{"id", item_id_}, {"type", "message"}, {"role", "assistant"}, {"status", "in_progress"},
                       {"content", json::array()}}}});
      event("response.content_part.added",
            {{"item_id", item_id_}, {"output_index", index}, {"content_index", 0},
             {"part",
              {{"type", "output_text"}, {"text", ""}, {"annotations", json::array()}, {"logprobs", json::array()}}}});
    }
  }

  void close_item() {
    if (open_ == Open::None) return;
    const int index = static_cast<int>(output_.size());
    json item;
    if (open_ == Open::Reasoning) {
      event("response.reasoning_text.done",
            {{"item_id", item_id_}, {"output_index", index}, {"content_index", 0}, {"text", text_}});
      item = {{"id", item_id_}, {"type", "reasoning"}, {"summary", json::array()},
              {"content", json::array({{{"type", "reasoning_text"}, {"text", text_}}})}, {"status", "completed"}};
    } else {
      json part = {{"type", "output_text"}, {"text", text_}, {"annotations", json::array()}, {"logprobs", logprobs_}};
      event("response.output_text.done", {{"item_id", item_id_}, {"output_index", index}, {"content_index", 0},
                                          {"text", text_}, {"logprobs", logprobs_}});
      event("response.content_part.done",
            {{"item_id", item_id_}, {"output_index", index}, {"content_index", 0}, {"part", part}});
      item = {{"id", item_id_}, {"type", "message"}, {"role", "assistant"}, {"status", "completed"},
              {"content", json::array({std::move(part)})}};
    }
    event("response.output_item.done", {{"output_index", index}, {"item", item}});
    output_.push_back(std::move(item));
    open_ = Open::None;
  }

  void add_call(const ToolCall& call) {
    close_item();
    const int index = static_cast<int>(output_.size());
    const std::string id = random_id("fc_");
    json item = {{"id", id},        {"type", "function_call"}, {"call_id", call.id},
                 {"name", call.name}, {"arguments", ""},        {"status", "in_progress"}};
    event("response.output_item.added", {{"output_index", index}, {"item", item}});
    event("response.function_call_arguments.delta",
          {{"item_id", id}, {"output_index", index}, {"delta", call.arguments}});
    event("response.function_call_arguments.done",
          {{"item_id", id}, {"output_index", index}, {"name", call.name}, {"arguments", call.arguments}});
    item["arguments"] = call.arguments;
    item["status"] = "completed";
    event("response.output_item.done", {{"output_index", index}, {"item", item}});
    output_.push_back(std::move(item));
  }

  void take(ChoiceDelta& d) {
    if (d.finish_reason == "error") {
      failure_ = d.error;
      return;
    }
    if (!d.reasoning.empty() && r_.chat.include_reasoning) {
      open_item(Open::Reasoning);
      text_ += d.reasoning;
      event("response.reasoning_text.delta", {{"item_id", item_id_}, {"output_index", static_cast<int>(output_.size())},
                                              {"content_index", 0}, {"delta", d.reasoning}});
    }
    if (!d.content.empty()) {
      open_item(Open::Message);
      text_ += d.content;
      const json lps = text_logprobs(d.logprobs);
      for (const json& lp : lps) logprobs_.push_back(lp);
      event("response.output_text.delta", {{"item_id", item_id_}, {"output_index", static_cast<int>(output_.size())},
                                           {"content_index", 0}, {"delta", d.content}, {"logprobs", lps}});
    }
    for (const ToolCall& call : d.tool_calls) add_call(call);
    if (d.finished) finish_reason_ = d.finish_reason;
  }

  const Server& s_;
  const ResponsesRequest r_;
  std::unique_ptr<Generation> gen_;
  const std::string id_;
  const int64_t created_ = unix_seconds();
  std::string* out_ = nullptr;          // where events go while streaming (null otherwise)
  json output_ = json::array();         // finished items
  Open open_ = Open::None;              // the item still receiving text
  std::string item_id_, text_;          // of the open item
  json logprobs_ = json::array();       // of the open message
  std::string finish_reason_, failure_;
  int64_t seq_ = 0;
  int status_ = 200;
  bool started_ = false, done_ = false;
};

}  // namespace

Reply create_response(Server& s, const HttpRequest& req) {
  ResponsesRequest r = parse_responses_request(parse_body(req.body), s.options().sampling_defaults, s.limits());
  s.check_model(r.chat.model);
  const std::string prompt = render_chat_prompt(s, r.chat);
  ChoiceOptions co;
  co.stop = r.chat.gen.stop;
  co.include_stop_str_in_output = r.chat.gen.include_stop_str_in_output;
  co.skip_special_tokens = r.chat.gen.skip_special_tokens;
  co.min_tokens = r.chat.gen.min_tokens;
  co.parse_reasoning = s.options().reasoning_parser;
  co.prompt_opened_think = co.parse_reasoning && ReasoningParser::prompt_opens_think(prompt);
  co.parse_tool_calls = r.chat.parse_tool_calls;
  co.single_tool_call = !r.chat.parallel_tool_calls;
  auto gen = std::make_unique<Generation>(s, std::vector<std::vector<int32_t>>{s.tokenizer().encode(prompt)}, r.chat.gen,
                                          co);
  r.chat.messages = nullptr;  // rendered and tokenized
  r.chat.tools = nullptr;
  Reply reply;
  reply.stream = std::make_unique<ResponsesReply>(s, std::move(r), std::move(gen));
  return reply;
}

}  // namespace rotor::server
