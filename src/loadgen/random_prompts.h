// loadgen/random_prompts.h — the `random` dataset: prompts of exactly the requested token count.
// A prompt is a random sequence of whole-word tokens (" word") that each pre-tokenise into
// their own piece, so the text re-tokenises to exactly the tokens drawn; every prompt is then
// encoded again (with the chat template on the chat endpoint) and checked to count exactly
// input_len tokens. The server's usage.prompt_tokens is checked against the same count.
#pragma once
#include <cstdint>
#include <vector>

#include "loadgen/openai_stream.h"
#include "loadgen/prompt_tokenizer.h"

namespace rotor::loadgen {

struct RandomPromptOptions {
  int input_len = 0;
  int output_len = 0;
  uint64_t seed = 0;
  Endpoint endpoint = Endpoint::kChat;
};

class RandomPromptBuilder {
 public:
  // Scans the vocabulary for the tokens prompts are made of (fails if there are too few).
  explicit RandomPromptBuilder(const PromptTokenizer& tok);
  // Prompt number `index` (deterministic in seed and index).
  Prompt build(const RandomPromptOptions& o, uint64_t index) const;
  size_t word_count() const { return words_.size(); }

 private:
  const PromptTokenizer& tok_;
  std::vector<std::string> first_words_;  // "word": encodes alone to one token
  std::vector<std::string> words_;        // " word": encodes alone to one token
};

}  // namespace rotor::loadgen
