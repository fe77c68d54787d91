// tests/loadgen/test_random_prompts.cpp — the random dataset on the real Qwen3 tokenizer of the
// tiny fixture: exact token counts (plain and through the chat template, with and without
// chat_template_kwargs), determinism, and the errors. (tests/e2e checks the same prompts
// against Hugging Face's tokenizers, an independent count.)
#include <gtest/gtest.h>

#include <filesystem>

#include "loadgen/random_prompts.h"
#include "loadgen/tokenizer_adapter.h"
#include "core/error.h"

namespace rotor::loadgen {
namespace {

std::string fixture_dir() {
  if (const char* e = std::getenv("ROTOR_FIXTURES")) return std::string(e) + "/tiny-qwen3-moe";
  return std::string(ROTOR_SHARED_DIR) + "/fixtures/tiny-qwen3-moe";
}

class RandomPrompts : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    tok_ = load_prompt_tokenizer(fixture_dir(), nullptr).release();
    builder_ = new RandomPromptBuilder(*tok_);
  }
  static void TearDownTestSuite() {
    delete builder_;
    delete tok_;
  }
  static PromptTokenizer* tok_;
  static RandomPromptBuilder* builder_;
};
PromptTokenizer* RandomPrompts::tok_ = nullptr;
RandomPromptBuilder* RandomPrompts::builder_ = nullptr;

TEST_F(RandomPrompts, ExactCountsOnBothEndpoints) {
  EXPECT_GT(builder_->word_count(), 30000u);  // Qwen3 has about 41k " word" tokens
  for (int n : {1, 2, 3, 57, 4096}) {
    RandomPromptOptions o{n, 16, 7, Endpoint::kCompletions};
    for (uint64_t i = 0; i < 3; ++i) {
      const Prompt p = builder_->build(o, i);
      EXPECT_EQ(tok_->encode(p.text).size(), static_cast<size_t>(n)) << n << " " << i;
      EXPECT_EQ(p.expected_prompt_tokens, n);
      EXPECT_EQ(p.max_tokens, 16);
      EXPECT_TRUE(p.messages.is_null());
    }
  }
  for (int n : {9, 10, 300, 4096}) {  // the chat template adds 8 tokens around the message
    RandomPromptOptions o{n, 5, 7, Endpoint::kChat};
    const Prompt p = builder_->build(o, 1);
    EXPECT_EQ(tok_->chat_prompt_tokens(p.text), n);
    EXPECT_EQ(tok_->encode(p.text).size(), static_cast<size_t>(n - 8));
  }
}

TEST_F(RandomPrompts, ChatTemplateKwargsAreCounted) {
  const auto no_think = load_prompt_tokenizer(fixture_dir(), {{"enable_thinking", false}});
  const RandomPromptBuilder b(*no_think);
  const Prompt p = b.build({100, 5, 1, Endpoint::kChat}, 0);
  EXPECT_EQ(no_think->chat_prompt_tokens(p.text), 100);
  EXPECT_EQ(tok_->encode(p.text).size(), 100u - 12);  // the empty think block adds 4 more
}

TEST_F(RandomPrompts, DeterministicAndVaried) {
  const RandomPromptOptions o{200, 5, 42, Endpoint::kCompletions};
  EXPECT_EQ(builder_->build(o, 3).text, builder_->build(o, 3).text);
  EXPECT_NE(builder_->build(o, 3).text, builder_->build(o, 4).text);
  RandomPromptOptions other = o;
  other.seed = 43;
  EXPECT_NE(builder_->build(o, 3).text, builder_->build(other, 3).text);
  const std::string t = builder_->build(o, 0).text;
  EXPECT_NE(t.front(), ' ');  // no leading whitespace for the template to merge with
}

TEST_F(RandomPrompts, Errors) {
  EXPECT_THROW(builder_->build({8, 5, 0, Endpoint::kChat}, 0), Error);  // the template alone is 8
  EXPECT_THROW(builder_->build({0, 5, 0, Endpoint::kCompletions}, 0), Error);
  EXPECT_THROW(load_prompt_tokenizer("/nonexistent", nullptr), Error);
  EXPECT_THROW(load_prompt_tokenizer(fixture_dir(), nlohmann::json::array()), Error);
}

TEST(RandomPromptsEmbedded, QwenTokenizerBuiltIn) {
  const auto tok = load_prompt_tokenizer("", nullptr);
  const RandomPromptBuilder b(*tok);
  const Prompt p = b.build({1000, 5, 0, Endpoint::kChat}, 0);
  EXPECT_EQ(tok->chat_prompt_tokens(p.text), 1000);
}

}  // namespace
}  // namespace rotor::loadgen
