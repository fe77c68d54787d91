// loadgen/random_prompts.cpp — random prompts of an exact token count (see random_prompts.h).
#include "loadgen/random_prompts.h"

#include "core/check.h"
#include "core/hash_rng.h"

namespace rotor::loadgen {

namespace {

bool ascii_letters(std::string_view s) {
  if (s.size() < 2) return false;
  for (char c : s)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))) return false;
  return true;
}

}  // namespace

RandomPromptBuilder::RandomPromptBuilder(const PromptTokenizer& tok) : tok_(tok) {
  for (int32_t id = 0; id < tok.vocab_size(); ++id) {
    if (tok.is_special(id)) continue;
    const std::string s = tok.decode(id);
    const bool word = s.size() > 2 && s[0] == ' ' && ascii_letters(std::string_view(s).substr(1));
    const bool first = ascii_letters(s);
    if (!word && !first) continue;
    const std::vector<int32_t> ids = tok.encode(s);
    if (ids.size() != 1 || ids[0] != id) continue;
    (word ? words_ : first_words_).push_back(s);
  }
  ROTOR_CHECK(words_.size() >= 100 && !first_words_.empty(),
              "--tokenizer: too few whole-word tokens for random prompts ({} \" word\" and {} \"word\" tokens)",
              words_.size(), first_words_.size());
}

Prompt RandomPromptBuilder::build(const RandomPromptOptions& o, uint64_t index) const {
  ROTOR_CHECK(o.input_len >= 1, "--random-input-len must be at least 1");
  const bool chat = o.endpoint == Endpoint::kChat;
  auto count = [&](const std::string& text) {
    return chat ? tok_.chat_prompt_tokens(text) : static_cast<int64_t>(tok_.encode(text).size());
  };
  auto make = [&](int64_t words) {
    uint64_t k = 0;
    auto next = [&](size_t n) { return static_cast<size_t>(hash3(o.seed, index, k++) % n); };
    std::string text = first_words_[next(first_words_.size())];
    for (int64_t i = 1; i < words; ++i) text += words_[next(words_.size())];
    return text;
  };
  // The template (chat) or a BOS (completions) adds tokens around the words: measure, then fix.
  int64_t words = o.input_len - (count(make(1)) - 1);
  ROTOR_CHECK(words >= 1, "--random-input-len {} is shorter than the prompt's fixed tokens ({})", o.input_len,
              o.input_len - words);
  Prompt p;
  for (int attempt = 0; attempt < 4; ++attempt) {
    p.text = make(words);
    const int64_t n = count(p.text);
    if (n == o.input_len) {
      p.max_tokens = o.output_len;
      p.expected_prompt_tokens = o.input_len;
      return p;
    }
    words += o.input_len - n;
    ROTOR_CHECK(words >= 1, "random prompt {}: cannot reach {} tokens", index, o.input_len);
  }
  ROTOR_FAIL("random prompt {}: the text does not re-tokenise to {} tokens (the tokenizer merges across words)",
             index, o.input_len);
}

}  // namespace rotor::loadgen
