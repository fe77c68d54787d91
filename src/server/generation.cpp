// server/generation.cpp — submitting, polling and aborting the engine requests of one API
// request.
#include "server/generation.h"

#include <chrono>

#include <fmt/format.h>

#include "server/api_error.h"
#include "server/responses.h"
#include "server/server.h"
#include "structured/matcher.h"

namespace rotor::server {

Generation::Generation(Server& server, const std::vector<std::vector<int32_t>>& prompts, const GenerationOptions& gen,
                       const ChoiceOptions& choice_options)
    : server_(server), n_(gen.n) {
  const int max_len = server.engine().limits().max_model_len;
  for (const auto& ids : prompts) {
    const int p = static_cast<int>(ids.size());
    if (p == 0) bad_request("the prompt is empty", "prompt");
    if (p >= max_len)
      bad_request(fmt::format("This model's maximum context length is {} tokens. However, your request has {} input "
                              "tokens. Please reduce the length of the input.",
                              max_len, p));
    if (gen.max_tokens && p + *gen.max_tokens > max_len)
      bad_request(fmt::format("'max_tokens' is too large: {}. This model's maximum context length is {} tokens and "
                              "your request has {} input tokens ({} > {} - {}).",
                              *gen.max_tokens, max_len, p, *gen.max_tokens, max_len, p),
                  "max_tokens");
    prompt_lengths_.push_back(p);
  }
  choices_.reserve(prompts.size() * n_);
  try {
    submit_all(server, prompts, gen, choice_options);
  } catch (...) {
    abort();  // what was submitted before the failure
    throw;
  }
}

void Generation::submit_all(Server& server, const std::vector<std::vector<int32_t>>& prompts,
                            const GenerationOptions& gen, const ChoiceOptions& choice_options) {
  const int max_len = server.engine().limits().max_model_len;
  const std::shared_ptr<const structured::CompiledGrammar> grammar = server.grammar(gen.structured);
  for (size_t pi = 0; pi < prompts.size(); ++pi) {
    for (int k = 0; k < n_; ++k) {
      EngineRequest r;
      r.prompt_token_ids = prompts[pi];
      SamplingParams& s = r.params;
      s.temperature = gen.temperature;
      s.top_p = gen.top_p;
      s.top_k = gen.top_k;
      s.min_p = gen.min_p;
      if (gen.seed) s.seed = static_cast<int64_t>(static_cast<uint64_t>(*gen.seed) + static_cast<uint64_t>(k));
      s.presence_penalty = gen.presence_penalty;
      s.frequency_penalty = gen.frequency_penalty;
      s.repetition_penalty = gen.repetition_penalty;
      s.max_tokens = gen.max_tokens.value_or(max_len - prompt_lengths_[pi]);
      s.min_tokens = gen.min_tokens;
      s.stop_token_ids = gen.stop_token_ids;
      s.ignore_eos = gen.ignore_eos;
      s.logprobs = gen.logprobs;
      if (grammar) r.constraint = std::make_shared<structured::GrammarMatcher>(grammar);
      choices_.push_back(Choice{server.submit(std::move(r)), ChoiceStream(server.tokenizer(), choice_options),
                                static_cast<int>(pi)});
    }
  }
}

Generation::~Generation() { abort(); }

void Generation::abort() {
  for (Choice& c : choices_) {
    if (!c.done) c.handle.abort();
    server_.release(c.handle.id());
  }
  choices_.clear();
  aborted_ = true;
}

bool Generation::finished() const {
  for (const Choice& c : choices_)
    if (!c.done) return false;
  return true;
}

bool Generation::feed(int i, const RequestOutput& out, const std::function<bool(int, ChoiceDelta&)>& emit) {
  Choice& c = choices_[static_cast<size_t>(i)];
  ChoiceDelta d = c.stream.push(out);
  if (c.stream.finished()) {
    c.done = true;
    if (!out.finished) c.handle.abort();  // a stop string ended it before the engine did
  }
  if (d.empty()) return true;
  if (emit(i, d)) return true;
  abort();
  return false;
}

bool Generation::poll(const std::function<bool(int, ChoiceDelta&)>& emit) {
  if (aborted_) return false;
  using std::chrono::milliseconds;
  int unfinished = 0, last = -1;
  for (int i = 0; i < num_choices(); ++i)
    if (!choices_[i].done) ++unfinished, last = i;
  if (unfinished == 0) return false;
  if (unfinished == 1) {
    if (!feed(last, choices_[last].handle.next(), emit)) return false;
    return !finished();
  }
  // Several choices: take what is ready, else wait a little on each in turn.
  bool any = false;
  for (int i = 0; i < num_choices(); ++i) {
    if (choices_[i].done) continue;
    if (auto out = choices_[i].handle.next_for(milliseconds(any ? 0 : 2))) {
      any = true;
      if (!feed(i, *out, emit)) return false;
    }
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

bool stream_to_end(Generation& gen, const std::function<bool(int, ChoiceDelta&)>& emit, const std::string& failure,
                   bool include_usage, const std::function<json()>& empty_chunk,
                   const std::function<bool(const std::string&)>& write) {
  while (gen.poll(emit)) {
    if (!failure.empty()) break;
  }
  if (gen.aborted()) return false;  // the client went away
  if (!failure.empty()) {
    gen.abort();
    if (!write(sse_event(error_body(500, failure)))) return false;
  } else if (include_usage) {
    json c = empty_chunk();
    c["usage"] = usage_json(gen.prompt_tokens(), gen.completion_tokens());
    if (!write(sse_event(c))) return false;
  }
  write(std::string(kSseDone));
  return true;
}

}  // namespace rotor::server
