// server/generation.cpp — submitting, polling and aborting the engine requests of one API
// request.
#include "server/generation.h"

#include <chrono>

#include <fmt/format.h>

#include "server/api_error.h"
#include "server/responses.h"
#include "server/server.h"

namespace rotor::server {

Generation::Generation(Server& server, const std::vector<std::vector<int32_t>>& prompts, const GenerationOptions& gen,
                       const ChoiceOptions& choice_options)
    : server_(server) {
  const int64_t max_len = server.engine().limits().max_model_len;
  std::vector<EngineRequest> requests;
  for (const auto& ids : prompts) {
    const int64_t p = static_cast<int64_t>(ids.size());
    if (p == 0) bad_request("the prompt is empty", "prompt");
    if (p >= max_len)
      bad_request(fmt::format("This model's maximum context length is {} tokens. However, your request has {} input "
                              "tokens. Please reduce the length of the input.",
                              max_len, p));
    if (gen.max_tokens && p + int64_t{*gen.max_tokens} > max_len)
      bad_request(fmt::format("'{}' is too large: {}. This model's maximum context length is {} tokens and "
                              "your request has {} input tokens ({} > {} - {}).",
                              gen.max_tokens_field, *gen.max_tokens, max_len, p, *gen.max_tokens, max_len, p),
                  gen.max_tokens_field);
    prompt_lengths_.push_back(static_cast<int>(p));
    for (int k = 0; k < gen.n; ++k) {
      EngineRequest r;
      r.prompt_token_ids = ids;
      SamplingParams& s = r.params;
      s.temperature = gen.temperature;
      s.top_p = gen.top_p;
      s.top_k = gen.top_k;
      s.min_p = gen.min_p;
      if (gen.seed) s.seed = static_cast<int64_t>(static_cast<uint64_t>(*gen.seed) + static_cast<uint64_t>(k));
      s.presence_penalty = gen.presence_penalty;
      s.frequency_penalty = gen.frequency_penalty;
      s.repetition_penalty = gen.repetition_penalty;
      s.max_tokens = gen.max_tokens.value_or(static_cast<int>(max_len - p));
      s.min_tokens = gen.min_tokens;
      s.stop_token_ids = gen.stop_token_ids;
      s.ignore_eos = gen.ignore_eos;
      s.logprobs = gen.logprobs;
      requests.push_back(std::move(r));
    }
  }
  std::vector<RequestHandle> handles = server.submit(std::move(requests));
  choices_.reserve(handles.size());
  for (RequestHandle& h : handles)
    choices_.push_back(Choice{std::move(h), ChoiceStream(server.tokenizer(), choice_options)});
}

Generation::~Generation() { abort(); }

void Generation::finish(Choice& c) {
  c.done = true;
  server_.release(c.handle.id());
}

void Generation::abort() {
  for (Choice& c : choices_) {
    if (c.done) continue;
    c.handle.abort();
    finish(c);
  }
  aborted_ = true;
}

bool Generation::finished() const {
  for (const Choice& c : choices_)
    if (!c.done) return false;
  return true;
}

void Generation::on_output(const std::function<void()>& fn) {
  for (Choice& c : choices_) c.handle.on_output(fn);
}

bool Generation::poll(const std::function<void(int, ChoiceDelta&)>& emit) {
  if (aborted_) return false;
  for (int i = 0; i < num_choices(); ++i) {
    Choice& c = choices_[static_cast<size_t>(i)];
    if (c.done) continue;
    const std::optional<RequestOutput> out = c.handle.next_for(std::chrono::milliseconds(0));
    if (!out) continue;
    ChoiceDelta d = c.stream.push(*out);
    if (c.stream.finished()) {
      if (!out->finished) c.handle.abort();  // a stop string ended it before the engine did
      finish(c);
    }
    if (!d.empty()) emit(i, d);
  }
  return !finished();
}

int Generation::prompt_tokens() const {
  int sum = 0;
  for (int p : prompt_lengths_) sum += p;
  return sum;
}

int Generation::completion_tokens() const {
  int sum = 0;
  for (const Choice& c : choices_) sum += c.stream.num_output_tokens();
  return sum;
}

void end_event_stream(const Generation& gen, const std::string& failure, bool include_usage, json empty_chunk,
                      std::string& out) {
  if (!failure.empty()) {
    out += sse_event(error_body(500, failure));
  } else if (include_usage) {
    empty_chunk["usage"] = usage_json(gen.prompt_tokens(), gen.completion_tokens());
    out += sse_event(empty_chunk);
  }
  out += kSseDone;
}

}  // namespace rotor::server
