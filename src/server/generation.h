// server/generation.h — the engine side of one API request: the prompts checked against the
// context length, n engine requests per prompt (seed + i when seeded, as vLLM does), one
// ChoiceStream each, and a poll loop that hands out text deltas as they arrive. Dropping a
// Generation aborts whatever has not finished (a client that went away frees its KV blocks).
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
  // prompts: token ids of each prompt (400 if one does not fit the context with max_tokens).
  Generation(Server& server, const std::vector<std::vector<int32_t>>& prompts, const GenerationOptions& gen,
             const ChoiceOptions& choice_options);
  ~Generation();
  Generation(const Generation&) = delete;
  Generation& operator=(const Generation&) = delete;

  int num_choices() const { return static_cast<int>(choices_.size()); }
  bool finished() const;
  bool aborted() const { return aborted_; }  // by abort() or a refused emit
  // Waits for output and calls emit(choice index, delta) for each non-empty delta; emit
  // returning false (the client is gone) aborts everything. False once all choices finished
  // or after an abort.
  bool poll(const std::function<bool(int, ChoiceDelta&)>& emit);
  void abort();

  int prompt_tokens() const;      // over all prompts, counted once per prompt
  int completion_tokens() const;  // over all choices
  int cached_tokens() const;      // prompt tokens served by the prefix cache, once per prompt
  // The response's usage object (prompt_tokens_details with --enable-prompt-tokens-details).
  json usage() const;

 private:
  struct Choice {
    RequestHandle handle;
    ChoiceStream stream;
    int prompt_index = 0;
    bool done = false;
  };
  void submit_all(Server& server, const std::vector<std::vector<int32_t>>& prompts, const GenerationOptions& gen,
                  const ChoiceOptions& choice_options);
  // --enable-log-requests: one line per API request.
  void log_request(const std::vector<std::vector<int32_t>>& prompts, const GenerationOptions& gen) const;
  // Feeds one engine output to choice i; false if emit refused.
  bool feed(int i, const RequestOutput& out, const std::function<bool(int, ChoiceDelta&)>& emit);

  Server& server_;
  int n_ = 1;
  std::vector<int> prompt_lengths_;
  std::vector<Choice> choices_;
  bool aborted_ = false;
};

// The end of a streamed response, shared by the endpoints: polls `gen` with emit until every
// choice finished (or emit recorded a `failure`), then writes an error event on a failure,
// else the usage chunk when asked (`empty_chunk`: a chunk with no choices), then [DONE].
// False if the client went away.
bool stream_to_end(Generation& gen, const std::function<bool(int, ChoiceDelta&)>& emit, const std::string& failure,
                   bool include_usage, const std::function<json()>& empty_chunk,
                   const std::function<bool(const std::string&)>& write);

}  // namespace rotor::server
