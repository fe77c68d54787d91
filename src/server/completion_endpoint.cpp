// server/completion_endpoint.cpp — POST /v1/completions: prompts as text or token ids (one
// choice per prompt and n), echo, logprobs; one JSON body or SSE chunks.
#include <httplib.h>

#include "server/api_error.h"
#include "server/endpoints.h"
#include "server/generation.h"
#include "server/responses.h"
#include "server/server.h"

namespace rotor::server {
namespace {

struct CompletionState {
  std::unique_ptr<Generation> gen;
  CompletionRequest request;
  std::vector<std::string> prompt_texts;  // per prompt, for echo
  std::string id, model;
  int64_t created = 0;
};

json chunk(const CompletionState& st, json choices) {
  json c = {{"id", st.id}, {"object", "text_completion"}, {"created", st.created}, {"model", st.model},
            {"choices", std::move(choices)}};
  if (st.request.gen.include_usage) c["usage"] = nullptr;
  return c;
}

void stream_response(std::shared_ptr<CompletionState> st, const Server& s, httplib::Response& res) {
  res.set_header("Cache-Control", "no-cache");
  res.set_chunked_content_provider("text/event-stream", [st, &s](size_t, httplib::DataSink& sink) {
    auto write = [&](const std::string& text) { return sink.write(text.data(), text.size()); };
    const auto& g = st->request.gen;
    const int n = st->gen->num_choices();
    std::vector<bool> started(n, false);
    std::vector<int> offset(n, 0);
    std::string failure;
    auto emit = [&](int i, ChoiceDelta& d) {
      if (d.finish_reason == "error") {
        failure = d.error;
        return true;
      }
      std::string text = std::move(d.content);
      if (!started[i]) {
        started[i] = true;
        if (st->request.echo) text = st->prompt_texts[i / g.n] + text;
      }
      json choice = {{"index", i}, {"text", text}};
      choice["logprobs"] = g.logprobs ? completion_logprobs_json(s.tokenizer(), d.logprobs, *g.logprobs,
                                                                 g.return_tokens_as_token_ids, &offset[i])
                                      : json(nullptr);
      choice["finish_reason"] = d.finished ? json(d.finish_reason) : json(nullptr);
      choice["stop_reason"] = d.finished ? d.stop_reason : json(nullptr);
      json c = chunk(*st, json::array({std::move(choice)}));
      if (g.continuous_usage_stats) c["usage"] = st->gen->usage();
      return write(sse_event(c));
    };
    auto empty_chunk = [&] { return chunk(*st, json::array()); };
    if (!stream_to_end(*st->gen, emit, failure, g.include_usage, empty_chunk, write)) return false;
    sink.done();
    return true;
  });
}

}  // namespace

void completions(Server& s, const httplib::Request& req, httplib::Response& res) {
  auto st = std::make_shared<CompletionState>();
  st->request = parse_completion_request(parse_body(req.body), s.options().sampling_defaults, s.limits());
  const CompletionRequest& r = st->request;
  s.check_model(r.model);
  if (r.echo && r.gen.logprobs)
    bad_request("'echo' with 'logprobs' needs prompt log-probabilities, which rotor does not compute", "echo");
  std::vector<std::vector<int32_t>> prompts;
  for (const CompletionPrompt& p : r.prompts) {
    if (p.text) {
      prompts.push_back(s.tokenizer().encode(*p.text));
      st->prompt_texts.push_back(*p.text);
    } else {
      prompts.push_back(p.ids);
      st->prompt_texts.push_back(r.echo ? s.tokenizer().decode(p.ids, false) : std::string());
    }
  }
  ChoiceOptions co;
  co.stop = r.gen.stop;
  co.include_stop_str_in_output = r.gen.include_stop_str_in_output;
  co.skip_special_tokens = r.gen.skip_special_tokens;
  co.min_tokens = r.gen.min_tokens;
  st->gen = std::make_unique<Generation>(s, prompts, r.gen, co);
  st->id = random_id("cmpl-");
  st->model = s.options().model_names.front();
  st->created = unix_seconds();
  if (r.gen.stream) return stream_response(st, s, res);

  const int n = st->gen->num_choices();
  std::vector<std::string> text(n);
  std::vector<json> logprobs(n);
  std::vector<int> offset(n, 0);
  std::vector<std::string> finish(n), error(n);
  std::vector<json> stop_reason(n);
  while (st->gen->poll([&](int i, ChoiceDelta& d) {
    text[i] += d.content;
    if (r.gen.logprobs) {
      const json lp = completion_logprobs_json(s.tokenizer(), d.logprobs, *r.gen.logprobs,
                                               r.gen.return_tokens_as_token_ids, &offset[i]);
      if (logprobs[i].is_null()) logprobs[i] = lp;
      else append_completion_logprobs(logprobs[i], lp);
    }
    if (d.finished) {
      finish[i] = d.finish_reason;
      stop_reason[i] = d.stop_reason;
      error[i] = d.error;
    }
    return true;
  })) {
  }
  json choices = json::array();
  for (int i = 0; i < n; ++i) {
    if (finish[i] == "error") throw ApiError(500, "the engine failed: " + error[i]);
    if (r.gen.logprobs && logprobs[i].is_null())
      logprobs[i] = completion_logprobs_json(s.tokenizer(), {}, *r.gen.logprobs, false, &offset[i]);
    choices.push_back({{"index", i},
                       {"text", (r.echo ? st->prompt_texts[i / r.gen.n] : std::string()) + text[i]},
                       {"logprobs", logprobs[i]},
                       {"finish_reason", finish[i]},
                       {"stop_reason", stop_reason[i]}});
  }
  const json body = {{"id", st->id},
                     {"object", "text_completion"},
                     {"created", st->created},
                     {"model", st->model},
                     {"choices", std::move(choices)},
                     {"usage", st->gen->usage()}};
  res.set_content(dump_json(body), "application/json");
}

}  // namespace rotor::server
