// server/completion_endpoint.cpp — POST /v1/completions: prompts as text or token ids (one
// choice per prompt and n), echo, logprobs; one JSON body or SSE chunks, made as the engine's
// output arrives.
#include "server/api_error.h"
#include "server/endpoints.h"
#include "server/generation.h"
#include "server/responses.h"
#include "server/server.h"

namespace rotor::server {
namespace {

class CompletionReply final : public ReplyStream {
 public:
  CompletionReply(const Server& s, CompletionRequest request, std::vector<std::string> prompt_texts,
                  std::unique_ptr<Generation> gen)
      : s_(s), r_(std::move(request)), prompt_texts_(std::move(prompt_texts)), gen_(std::move(gen)) {
    const size_t n = static_cast<size_t>(gen_->num_choices());
    started_.assign(n, false);
    offset_.assign(n, 0);
    text_.resize(n);
    logprobs_.resize(n);
    finish_.resize(n);
    error_.resize(n);
    stop_reason_.resize(n);
  }

  bool event_stream() const override { return r_.gen.stream; }
  void on_output(std::function<void()> fn) override { gen_->on_output(fn); }
  void abort() override { gen_->abort(); }
  int status() const override { return status_; }

  bool pump(std::string& out) override {
    if (done_) return true;
    const bool more = gen_->poll([&](int i, ChoiceDelta& d) {
      if (r_.gen.stream) emit(i, d, out);
      else collect(i, d);
    });
    if (more && failure_.empty()) return false;
    done_ = true;
    if (!r_.gen.stream) {
      out += body();
    } else {
      if (!failure_.empty()) gen_->abort();
      end_event_stream(*gen_, failure_, r_.gen.include_usage, chunk(json::array()), out);
    }
    return true;
  }

 private:
  json chunk(json choices) const {
    json c = {{"id", id_}, {"object", "text_completion"}, {"created", created_}, {"model", model()},
              {"choices", std::move(choices)}};
    if (r_.gen.include_usage) c["usage"] = nullptr;
    return c;
  }
  const std::string& model() const { return s_.options().model_names.front(); }
  const std::string& echo_text(int i) const { return prompt_texts_[static_cast<size_t>(i / r_.gen.n)]; }

  void emit(int i, ChoiceDelta& d, std::string& out) {
    if (d.finish_reason == "error") {
      failure_ = d.error;
      return;
    }
    const auto& g = r_.gen;
    std::string text = std::move(d.content);
    if (!started_[i]) {
      started_[i] = true;
      if (r_.echo) text = echo_text(i) + text;
    }
    json choice = {{"index", i}, {"text", text}};
    choice["logprobs"] = g.logprobs ? completion_logprobs_json(s_.tokenizer(), d.logprobs, *g.logprobs,
                                                               g.return_tokens_as_token_ids, &offset_[i])
                                    : json(nullptr);
    choice["finish_reason"] = d.finished ? json(d.finish_reason) : json(nullptr);
    choice["stop_reason"] = d.finished ? d.stop_reason : json(nullptr);
    json c = chunk(json::array({std::move(choice)}));
    if (g.continuous_usage_stats) c["usage"] = gen_->usage();
    out += sse_event(c);
  }

  void collect(int i, ChoiceDelta& d) {
    const auto& g = r_.gen;
    text_[i] += d.content;
    if (g.logprobs) {
      const json lp = completion_logprobs_json(s_.tokenizer(), d.logprobs, *g.logprobs, g.return_tokens_as_token_ids,
                                               &offset_[i]);
      if (logprobs_[i].is_null()) logprobs_[i] = lp;
      else append_completion_logprobs(logprobs_[i], lp);
    }
    if (d.finished) {
      finish_[i] = d.finish_reason;
      stop_reason_[i] = d.stop_reason;
      error_[i] = d.error;
    }
  }

  // The non-streamed body (or the error body when the engine failed).
  std::string body() {
    const auto& g = r_.gen;
    json choices = json::array();
    for (int i = 0; i < gen_->num_choices(); ++i) {
      if (finish_[i] == "error") {
        status_ = 500;
        return dump_json(error_body(500, "the engine failed: " + error_[i]));
      }
      if (g.logprobs && logprobs_[i].is_null())
        logprobs_[i] = completion_logprobs_json(s_.tokenizer(), {}, *g.logprobs, false, &offset_[i]);
      choices.push_back({{"index", i},
                         {"text", (r_.echo ? echo_text(i) : std::string()) + text_[i]},
                         {"logprobs", logprobs_[i]},
                         {"finish_reason", finish_[i]},
                         {"stop_reason", stop_reason_[i]}});
    }
    return dump_json({{"id", id_},
                      {"object", "text_completion"},
                      {"created", created_},
                      {"model", model()},
                      {"choices", std::move(choices)},
                      {"usage", gen_->usage()}});
  }

  const Server& s_;
  const CompletionRequest r_;
  const std::vector<std::string> prompt_texts_;  // per prompt, for echo
  std::unique_ptr<Generation> gen_;
  const std::string id_ = random_id("cmpl-");
  const int64_t created_ = unix_seconds();
  std::vector<bool> started_;
  std::vector<int> offset_;
  std::vector<std::string> text_, finish_, error_;
  std::vector<json> logprobs_, stop_reason_;
  std::string failure_;
  int status_ = 200;
  bool done_ = false;
};

}  // namespace

Reply completions(Server& s, const HttpRequest& req) {
  CompletionRequest r = parse_completion_request(parse_body(req.body), s.options().sampling_defaults, s.limits());
  s.check_model(r.model);
  if (r.echo && r.gen.logprobs)
    bad_request("'echo' with 'logprobs' needs prompt log-probabilities, which rotor does not compute", "echo");
  std::vector<std::vector<int32_t>> prompts;
  std::vector<std::string> prompt_texts;
  for (const CompletionPrompt& p : r.prompts) {
    if (p.text) {
      prompts.push_back(s.tokenizer().encode(*p.text));
      prompt_texts.push_back(r.echo ? *p.text : std::string());
    } else {
      prompts.push_back(p.ids);
      prompt_texts.push_back(r.echo ? s.tokenizer().decode(p.ids, false) : std::string());
    }
  }
  ChoiceOptions co;
  co.stop = r.gen.stop;
  co.include_stop_str_in_output = r.gen.include_stop_str_in_output;
  co.skip_special_tokens = r.gen.skip_special_tokens;
  co.min_tokens = r.gen.min_tokens;
  auto gen = std::make_unique<Generation>(s, prompts, r.gen, co);
  r.prompts = {};  // tokenized: the reply does not need the text
  Reply reply;
  reply.stream = std::make_unique<CompletionReply>(s, std::move(r), std::move(prompt_texts), std::move(gen));
  return reply;
}

}  // namespace rotor::server
