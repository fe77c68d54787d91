// server/generation.h — the engine side of one API request: the prompts cut to
// truncate_prompt_tokens and checked against the context length (64-bit arithmetic), n engine
// requests per prompt (seed + i when seeded, as vLLM does) submitted all or none, one
// ChoiceStream each, and a poll that never waits and hands out the text deltas that are ready
// (the connection is woken by on_output). Dropping a Generation aborts whatever has not
// finished (a client that went away frees its KV blocks).
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "engine/request_handle.h"
#include "server/choice_stream.h"
#include "server/json.h"
#include "server/request.h"

namespace rotor::server {

class Server;

class Generation {
 public:
  // prompts: token ids of each prompt, cut to truncate_prompt_tokens (400 if one does not fit
  // the context with max_tokens; 503 from Server::submit when overloaded).
  Generation(Server& server, std::vector<std::vector<int32_t>> prompts, const GenerationOptions& gen,
             const ChoiceOptions& choice_options);
  ~Generation();
  Generation(const Generation&) = delete;
  Generation& operator=(const Generation&) = delete;

  int num_choices() const { return static_cast<int>(choices_.size()); }
  int n() const { return n_; }
  // The prompt of choice i as submitted (after truncate_prompt_tokens).
  const std::vector<int32_t>& prompt_of(int choice) const { return prompts_[static_cast<size_t>(choice / n_)]; }
  bool finished() const;
  bool aborted() const { return aborted_; }
  // fn is called from the engine's thread whenever a choice has new output (see
  // RequestHandle::on_output); it must not block.
  void on_output(const std::function<void()>& fn);
  // Takes what is ready without waiting and calls emit(choice index, delta) for each
  // non-empty delta. False once every choice has finished, or after abort().
  bool poll(const std::function<void(int, ChoiceDelta&)>& emit);
  void abort();

  int prompt_tokens() const;      // over all prompts, counted once per prompt
  int completion_tokens() const;  // over all choices
  int cached_tokens() const;      // prompt tokens served by the prefix cache, once per prompt
  int reasoning_tokens() const;   // output tokens inside think blocks, over all choices
  // The response's usage object (prompt_tokens_details with --enable-prompt-tokens-details).
  json usage() const;

 private:
  struct Choice {
    RequestHandle handle;
    ChoiceStream stream;
    bool done = false;
  };
  void finish(Choice& c);
  // --enable-log-requests: one line per API request.
  void log_request(const std::vector<std::vector<int32_t>>& prompts, const GenerationOptions& gen) const;

  Server& server_;
  int n_ = 1;
  std::vector<std::vector<int32_t>> prompts_;
  std::vector<int> prompt_lengths_;
  std::vector<Choice> choices_;
  bool aborted_ = false;
  bool recorded_ = false;  // counted in the server's per-request stats
};

// vLLM's bad_words as token sequences: each word (leading spaces dropped), and the word after
// a space when that is a different sequence of the same length.
std::vector<std::vector<int32_t>> bad_words_token_ids(const Tokenizer& tokenizer, const std::vector<std::string>& words);

}  // namespace rotor::server
