// server/generation.cpp — submitting, polling and aborting the engine requests of one API
// request.
#include "server/generation.h"

#include <chrono>

#include <fmt/format.h>

#include "core/log.h"
#include "server/api_error.h"
#include "server/responses.h"
#include "server/server.h"
#include "structured/matcher.h"

namespace rotor::server {

std::vector<std::vector<int32_t>> bad_words_token_ids(const Tokenizer& tokenizer, const std::vector<std::string>& words) {
  std::vector<std::vector<int32_t>> out;
  for (const std::string& word : words) {
    const std::string bare = word.substr(std::min(word.size(), word.find_first_not_of(" \t\n")));
    std::vector<int32_t> ids = tokenizer.encode(bare);
    if (ids.empty()) continue;
    // As vLLM: also the word after a space, when that is a different token sequence of the same length.
    std::vector<int32_t> spaced = tokenizer.encode(" " + bare);
    out.push_back(std::move(ids));
    if (spaced.size() == out.back().size() && spaced.front() != out.back().front()) out.push_back(std::move(spaced));
  }
  return out;
}

Generation::Generation(Server& server, std::vector<std::vector<int32_t>> prompts, const GenerationOptions& gen,
                       const ChoiceOptions& choice_options)
    : server_(server), n_(gen.n), prompts_(std::move(prompts)) {
  const int64_t max_len = server.engine().limits().max_model_len;
  if (gen.priority != 0 && !server.engine().limits().priority_scheduling)
    bad_request(fmt::format("priority {}: this server schedules first come, first served (start it with "
                            "--scheduling-policy priority)",
                            gen.priority),
                "priority");
  if (gen.truncate_prompt_tokens && *gen.truncate_prompt_tokens > max_len)
    bad_request(fmt::format("'truncate_prompt_tokens' ({}) is larger than this model's maximum context length ({})",
                            *gen.truncate_prompt_tokens, max_len),
                "truncate_prompt_tokens");
  const std::vector<std::vector<int32_t>> bad_words = bad_words_token_ids(server.tokenizer(), gen.bad_words);
  const std::shared_ptr<const structured::CompiledGrammar> grammar = server.grammar(gen.structured);
  std::vector<EngineRequest> requests;
  for (std::vector<int32_t>& ids : prompts_) {
    if (gen.truncate_prompt_tokens) {  // keep the last N tokens, as vLLM truncates on the left
      const size_t keep = *gen.truncate_prompt_tokens < 0 ? static_cast<size_t>(max_len)
                                                          : static_cast<size_t>(*gen.truncate_prompt_tokens);
      if (ids.size() > keep) ids.erase(ids.begin(), ids.end() - static_cast<std::ptrdiff_t>(keep));
    }
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
      r.priority = gen.priority;
      SamplingParams& s = r.params;
      s.temperature = gen.temperature;
      s.top_p = gen.top_p;
      s.top_k = gen.top_k;
      s.min_p = gen.min_p;
      if (gen.seed) s.seed = static_cast<int64_t>(static_cast<uint64_t>(*gen.seed) + static_cast<uint64_t>(k));
      s.presence_penalty = gen.presence_penalty;
      s.frequency_penalty = gen.frequency_penalty;
      s.repetition_penalty = gen.repetition_penalty;
      s.max_tokens = std::max(1, gen.max_tokens.value_or(static_cast<int>(max_len - p)));  // 0: echo only, one drawn
      s.min_tokens = gen.min_tokens;
      s.stop_token_ids = gen.stop_token_ids;
      s.ignore_eos = gen.ignore_eos;
      s.logprobs = gen.logprobs;
      s.prompt_logprobs = gen.prompt_logprobs;
      s.allowed_token_ids = gen.allowed_token_ids;
      s.bad_words = bad_words;
      if (grammar) r.constraint = std::make_shared<structured::GrammarMatcher>(grammar);
      requests.push_back(std::move(r));
    }
  }
  std::vector<RequestHandle> handles = server.submit(std::move(requests));
  choices_.reserve(handles.size());
  for (RequestHandle& h : handles)
    choices_.push_back(Choice{std::move(h), ChoiceStream(server.tokenizer(), choice_options)});
  if (server.options().log_requests) log_request(prompts_, gen);
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
  if (!finished()) return true;
  if (!recorded_) {  // /metrics: n and the longest of each prompt's choices
    recorded_ = true;
    for (size_t p = 0; p < choices_.size(); p += static_cast<size_t>(n_)) {
      int most = 0;
      for (size_t k = p; k < p + static_cast<size_t>(n_); ++k) most = std::max(most, choices_[k].stream.num_output_tokens());
      server_.record_finished_group(n_, most);
    }
  }
  return false;
}

int Generation::prompt_tokens() const {
  int sum = 0;
  for (int p : prompt_lengths_) sum += p;
  return sum;
}

int Generation::cached_tokens() const {
  int sum = 0;
  for (size_t i = 0; i < choices_.size(); i += static_cast<size_t>(n_)) sum += choices_[i].stream.num_cached_tokens();
  return sum;
}

int Generation::reasoning_tokens() const {
  int sum = 0;
  for (const Choice& c : choices_) sum += c.stream.num_reasoning_tokens();
  return sum;
}

json Generation::usage() const {
  json u = usage_json(prompt_tokens(), completion_tokens());
  if (server_.options().prompt_tokens_details) u["prompt_tokens_details"] = {{"cached_tokens", cached_tokens()}};
  return u;
}

void Generation::log_request(const std::vector<std::vector<int32_t>>& prompts, const GenerationOptions& g) const {
  const int cut = server_.options().max_log_len;  // < 0: whole prompts
  for (size_t pi = 0; pi < prompts.size() && pi * n_ < choices_.size(); ++pi) {
    const std::vector<int32_t>& ids = prompts[pi];
    std::string text = server_.tokenizer().decode(ids, false);
    if (cut >= 0 && static_cast<int>(text.size()) > cut) {
      size_t end = static_cast<size_t>(cut);
      while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;  // whole UTF-8 characters
      text.resize(end);
    }
    const size_t shown = cut >= 0 ? std::min(ids.size(), static_cast<size_t>(cut)) : ids.size();
    const std::vector<int32_t> head(ids.begin(), ids.begin() + static_cast<std::ptrdiff_t>(shown));
    const json params = {{"n", n_},
                         {"temperature", g.temperature},
                         {"top_p", g.top_p},
                         {"top_k", g.top_k},
                         {"min_p", g.min_p},
                         {"presence_penalty", g.presence_penalty},
                         {"frequency_penalty", g.frequency_penalty},
                         {"repetition_penalty", g.repetition_penalty},
                         {"seed", g.seed ? json(*g.seed) : json(nullptr)},
                         {"max_tokens", g.max_tokens ? json(*g.max_tokens) : json(nullptr)},
                         {"min_tokens", g.min_tokens},
                         {"stop", g.stop},
                         {"stop_token_ids", g.stop_token_ids},
                         {"ignore_eos", g.ignore_eos},
                         {"logprobs", g.logprobs ? json(*g.logprobs) : json(nullptr)}};
    ROTOR_LOG_INFO("request {}: {} prompt tokens, params: {}, prompt: {}, prompt_token_ids: {}{}",
                   choices_[pi * n_].handle.id(), ids.size(), params.dump(), json(text).dump(), json(head).dump(),
                   shown < ids.size() ? fmt::format(" (first {} of {})", shown, ids.size()) : "");
  }
}

int Generation::completion_tokens() const {
  int sum = 0;
  for (const Choice& c : choices_) sum += c.stream.num_output_tokens();
  return sum;
}

}  // namespace rotor::server
