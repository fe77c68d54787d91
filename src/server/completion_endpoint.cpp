// server/completion_endpoint.cpp — POST /v1/completions: prompts as text or token ids (one
// choice per prompt and n), echo (with the prompt's log-probs when logprobs are asked; alone
// with max_tokens 0), logprobs, vLLM's prompt_logprobs; one JSON body or SSE chunks, made as
// the engine's output arrives.
#include "server/api_error.h"
#include "server/endpoints.h"
#include "server/generation_reply.h"
#include "server/responses.h"
#include "server/server.h"

namespace rotor::server {
namespace {

class CompletionReply final : public GenerationReply {
 public:
  CompletionReply(const Server& s, CompletionRequest request, std::vector<std::string> prompt_texts,
                  std::unique_ptr<Generation> generation)
      : GenerationReply(std::move(generation), request.gen.stream, request.gen.include_usage),
        s_(s),
        r_(std::move(request)),
        prompt_texts_(std::move(prompt_texts)),
        id_("cmpl-" + (r_.gen.request_id.empty() ? random_id("") : r_.gen.request_id)) {
    const size_t n = static_cast<size_t>(gen().num_choices());
    started_.assign(n, false);
    offset_.assign(n, 0);
    text_.resize(n);
    logprobs_.resize(n);
    prompt_lps_.resize(n);
    finish_.resize(n);
    error_.resize(n);
    stop_reason_.resize(n);
  }

 private:
  json chunk(json choices) const override {
    json c = {{"id", id_}, {"object", "text_completion"}, {"created", created_}, {"model", model()},
              {"choices", std::move(choices)}};
    if (r_.gen.include_usage) c["usage"] = nullptr;
    return c;
  }
  const std::string& model() const { return s_.options().model_names.front(); }
  const std::string& echo_text(int i) const { return prompt_texts_[static_cast<size_t>(i / r_.gen.n)]; }

  // Choice i's logprobs object for `lps`: with echo, the first call covers the prompt first.
  json logprobs_json(int i, const std::vector<TokenLogprobs>& lps, bool first) {
    const auto& g = r_.gen;
    const bool as_ids = g.return_tokens_as_token_ids;
    json out = first && r_.echo ? echo_logprobs_json(s_.tokenizer(), gen().prompt_of(i), prompt_lps_[i], *g.logprobs,
                                                      as_ids, &offset_[i])
                                : completion_logprobs_json(s_.tokenizer(), {}, *g.logprobs, as_ids, &offset_[i]);
    append_completion_logprobs(out, completion_logprobs_json(s_.tokenizer(), lps, *g.logprobs, as_ids, &offset_[i]));
    return out;
  }

  void emit(int i, ChoiceDelta& d, std::string& out) override {
    if (d.finish_reason == "error") {
      fail(d.error);
      return;
    }
    for (auto& lp : d.prompt_logprobs) prompt_lps_[i].push_back(std::move(lp));
    if (d.content.empty() && d.logprobs.empty() && !d.finished) return;  // only prompt log-probs so far
    const auto& g = r_.gen;
    std::string text = std::move(d.content);
    const bool first = !started_[i];
    if (first) {
      started_[i] = true;
      if (r_.echo) text = echo_text(i) + text;
    }
    json choice = {{"index", i}, {"text", text}};
    choice["logprobs"] = g.logprobs ? logprobs_json(i, d.logprobs, first) : json(nullptr);
    choice["finish_reason"] = d.finished ? json(d.finish_reason) : json(nullptr);
    choice["stop_reason"] = d.finished ? d.stop_reason : json(nullptr);
    json c = chunk(json::array({std::move(choice)}));
    if (g.continuous_usage_stats) c["usage"] = gen().usage();
    out += sse_event(c);
  }

  void collect(int i, ChoiceDelta& d) override {
    text_[i] += d.content;
    for (auto& lp : d.logprobs) logprobs_[i].push_back(std::move(lp));
    for (auto& lp : d.prompt_logprobs) prompt_lps_[i].push_back(std::move(lp));
    if (d.finished) {
      finish_[i] = d.finish_reason;
      stop_reason_[i] = d.stop_reason;
      error_[i] = d.error;
    }
  }

  // The non-streamed body (or the error body when the engine failed).
  std::string body() override {
    const auto& g = r_.gen;
    json choices = json::array();
    for (int i = 0; i < gen().num_choices(); ++i) {
      if (finish_[i] == "error") {
        set_status(500);
        return dump_json(error_body(500, "the engine failed: " + error_[i]));
      }
      json choice = {{"index", i},
                     {"text", (r_.echo ? echo_text(i) : std::string()) + text_[i]},
                     {"logprobs", g.logprobs ? logprobs_json(i, logprobs_[i], true) : json(nullptr)},
                     {"finish_reason", finish_[i]},
                     {"stop_reason", stop_reason_[i]}};
      choice["prompt_logprobs"] =
          g.prompt_logprobs ? prompt_logprobs_json(s_.tokenizer(), prompt_lps_[i]) : json(nullptr);
      choices.push_back(std::move(choice));
    }
    return dump_json({{"id", id_},
                      {"object", "text_completion"},
                      {"created", created_},
                      {"model", model()},
                      {"choices", std::move(choices)},
                      {"usage", gen().usage()}});
  }

  const Server& s_;
  const CompletionRequest r_;
  const std::vector<std::string> prompt_texts_;  // per prompt, for echo
  const std::string id_;
  const int64_t created_ = unix_seconds();
  std::vector<bool> started_;
  std::vector<int> offset_;                      // text offset of the next logprobs token
  std::vector<std::string> text_, finish_, error_;
  std::vector<std::vector<TokenLogprobs>> logprobs_, prompt_lps_;
  std::vector<json> stop_reason_;
};

}  // namespace

Reply completions(Server& s, const HttpRequest& req) {
  CompletionRequest r = parse_completion_request(parse_body(req.body), s.options().sampling_defaults, s.limits());
  s.check_model(r.model);
  if (r.echo_only && r.gen.stream)
    bad_request("'echo' with 'max_tokens' 0 cannot be streamed (there is nothing to stream)", "max_tokens");
  std::vector<std::vector<int32_t>> prompts;
  std::vector<std::string> prompt_texts;
  for (const CompletionPrompt& p : r.prompts) {
    prompts.push_back(p.text ? s.tokenizer().encode(*p.text) : p.ids);
    prompt_texts.push_back(r.echo ? p.text.value_or(s.tokenizer().decode(p.ids, false)) : std::string());
  }
  std::vector<size_t> lengths;
  for (const auto& p : prompts) lengths.push_back(p.size());
  ChoiceOptions co;
  co.stop = r.gen.stop;
  co.include_stop_str_in_output = r.gen.include_stop_str_in_output;
  co.skip_special_tokens = r.gen.skip_special_tokens;
  co.min_tokens = r.gen.min_tokens;
  co.echo_only = r.echo_only;
  auto gen = std::make_unique<Generation>(s, std::move(prompts), r.gen, co);
  // An echoed prompt cut by truncate_prompt_tokens is echoed as the model saw it.
  for (size_t pi = 0; r.echo && pi < lengths.size(); ++pi) {
    const std::vector<int32_t>& ids = gen->prompt_of(static_cast<int>(pi) * gen->n());
    if (ids.size() != lengths[pi]) prompt_texts[pi] = s.tokenizer().decode(ids, false);
  }
  r.prompts = {};  // tokenized: the reply does not need the text
  Reply reply;
  reply.stream = std::make_unique<CompletionReply>(s, std::move(r), std::move(prompt_texts), std::move(gen));
  return reply;
}

}  // namespace rotor::server
