// tests/server/test_choice_stream.cpp — engine token deltas through the real Qwen3 tokenizer
// into text deltas: stop strings end the choice at the token that completes them (later
// tokens neither emitted nor counted), special tokens skipped, <think> and <tool_call> split
// out (at most one tool call when parallel_tool_calls is off), the same result however the
// tokens are grouped into deltas, and completions' echo-only choices.
#include <gtest/gtest.h>

#include "server/choice_stream.h"

namespace rotor::server {
namespace {

const Tokenizer& qwen3() {
  static const std::shared_ptr<const Tokenizer> t = Tokenizer::embedded_qwen3();
  return *t;
}

RequestOutput output(std::vector<int32_t> ids, bool finished = false, FinishReason why = FinishReason::None) {
  RequestOutput o;
  o.token_ids = std::move(ids);
  o.finished = finished;
  o.finish_reason = why;
  o.num_prompt_tokens = 7;
  return o;
}

// Runs ids through a ChoiceStream in groups of `group` tokens; the last group finishes with `why`.
ChoiceDelta run(const ChoiceOptions& opt, const std::vector<int32_t>& ids, size_t group, int* counted = nullptr,
                FinishReason why = FinishReason::Length) {
  ChoiceStream s(qwen3(), opt);
  ChoiceDelta all;
  for (size_t i = 0; i < ids.size() && !s.finished(); i += group) {
    const size_t end = std::min(ids.size(), i + group);
    ChoiceDelta d = s.push(output({ids.begin() + i, ids.begin() + end}, end == ids.size(), why));
    all.content += d.content;
    all.reasoning += d.reasoning;
    for (auto& c : d.tool_calls) all.tool_calls.push_back(c);
    if (d.finished) {
      all.finished = true;
      all.finish_reason = d.finish_reason;
      all.stop_reason = d.stop_reason;
    }
  }
  if (counted) *counted = s.num_output_tokens();
  return all;
}

TEST(ChoiceStream, StopStringAcrossTokens) {
  const std::vector<int32_t> ids = qwen3().encode("The quick brown fox jumps over the lazy dog again and again");
  // "wn fo" starts inside " brown" and ends inside " fox".
  ChoiceOptions opt;
  opt.stop = {"wn fo"};
  const int fox = 4;  // The, quick, brown, fox: the token that completes the stop string
  ASSERT_EQ(qwen3().decode(std::vector<int32_t>(ids.begin(), ids.begin() + fox)), "The quick brown fox");
  for (size_t group : {1, 2, 3, 100}) {
    int counted = 0;
    const ChoiceDelta d = run(opt, ids, group, &counted);
    EXPECT_EQ(d.content, "The quick bro") << group;
    EXPECT_EQ(d.finish_reason, "stop");
    EXPECT_EQ(d.stop_reason, "wn fo");
    EXPECT_EQ(counted, fox) << group;
  }
  opt.include_stop_str_in_output = true;
  EXPECT_EQ(run(opt, ids, 1).content, "The quick brown fo");
}

TEST(ChoiceStream, MinTokensDelaysStopStrings) {
  const std::vector<int32_t> ids = qwen3().encode("a b a b a b");
  ChoiceOptions opt;
  opt.stop = {" b"};
  EXPECT_EQ(run(opt, ids, 1).content, "a");
  opt.min_tokens = 3;  // " b" completes at token 2 (too early), then again at token 4
  EXPECT_EQ(run(opt, ids, 1).content, "a b a");
}

TEST(ChoiceStream, EosIsSkippedAndEndsWithStop) {
  std::vector<int32_t> ids = qwen3().encode("Hello there.");
  ids.push_back(*qwen3().token_to_id("<|im_end|>"));
  ChoiceOptions opt;
  int counted = 0;
  const ChoiceDelta d = run(opt, ids, 2, &counted, FinishReason::Stop);
  EXPECT_EQ(d.content, "Hello there.");
  EXPECT_EQ(d.finish_reason, "stop");
  EXPECT_TRUE(d.stop_reason.is_null());
  EXPECT_EQ(counted, static_cast<int>(ids.size()));  // eos counts as a generated token
  opt.skip_special_tokens = false;
  EXPECT_EQ(run(opt, ids, 2, nullptr, FinishReason::Stop).content, "Hello there.<|im_end|>");
}

TEST(ChoiceStream, SplitMultibyteCharacterComesOutWhole) {
  const std::vector<int32_t> ids = qwen3().encode("量子计算 🚀 ok");
  for (size_t group : {1, 2, 5}) EXPECT_EQ(run({}, ids, group).content, "量子计算 🚀 ok");
}

TEST(ChoiceStream, ReasoningAndToolCalls) {
  const std::string text =
      "<think>\nThe user wants weather.\n</think>\n\nLet me check.\n<tool_call>\n{\"name\": \"get_weather\", "
      "\"arguments\": {\"city\": \"Paris\"}}\n</tool_call>";
  std::vector<int32_t> ids = qwen3().encode(text);
  ids.push_back(*qwen3().token_to_id("<|im_end|>"));
  ChoiceOptions opt;
  opt.parse_reasoning = true;
  opt.parse_tool_calls = true;
  for (size_t group : {1, 3, 1000}) {
    const ChoiceDelta d = run(opt, ids, group, nullptr, FinishReason::Stop);
    EXPECT_EQ(d.reasoning, "\nThe user wants weather.\n");
    EXPECT_EQ(d.content, "\n\nLet me check.\n");
    ASSERT_EQ(d.tool_calls.size(), 1u);
    EXPECT_EQ(d.tool_calls[0].name, "get_weather");
    EXPECT_EQ(d.tool_calls[0].arguments, R"({"city":"Paris"})");
    EXPECT_EQ(d.finish_reason, "tool_calls");
  }
  // Without the parsers the text is all content.
  EXPECT_EQ(run({}, ids, 4, nullptr, FinishReason::Stop).content, text);
}

TEST(ChoiceStream, ParallelToolCallsOffKeepsTheFirst) {
  std::vector<int32_t> ids = qwen3().encode(
      "<tool_call>\n{\"name\": \"a\", \"arguments\": {}}\n</tool_call>\n<tool_call>\n{\"name\": \"b\", "
      "\"arguments\": {}}\n</tool_call>");
  ChoiceOptions opt;
  opt.parse_tool_calls = true;
  EXPECT_EQ(run(opt, ids, 2, nullptr, FinishReason::Stop).tool_calls.size(), 2u);
  opt.single_tool_call = true;
  const ChoiceDelta d = run(opt, ids, 2, nullptr, FinishReason::Stop);
  ASSERT_EQ(d.tool_calls.size(), 1u);
  EXPECT_EQ(d.tool_calls[0].name, "a");
  EXPECT_EQ(d.finish_reason, "tool_calls");
}

TEST(ChoiceStream, EchoOnlyDropsTheOutputAndKeepsPromptLogprobs) {
  ChoiceOptions opt;
  opt.echo_only = true;
  ChoiceStream s(qwen3(), opt);
  RequestOutput o = output(qwen3().encode("word"), true, FinishReason::Length);
  o.prompt_logprobs.resize(6);
  const ChoiceDelta d = s.push(o);
  EXPECT_TRUE(d.content.empty() && d.finished);
  EXPECT_EQ(d.finish_reason, "length");
  EXPECT_EQ(d.prompt_logprobs.size(), 6u);
  EXPECT_EQ(s.num_output_tokens(), 0);
}

TEST(ChoiceStream, StopTokenIdIsTheStopReason) {
  ChoiceStream s(qwen3(), {});
  RequestOutput o = output(qwen3().encode("hi"), true, FinishReason::Stop);
  o.stop_token_id = 42;
  const ChoiceDelta d = s.push(o);
  EXPECT_EQ(d.finish_reason, "stop");
  EXPECT_EQ(d.stop_reason, 42);
  EXPECT_EQ(s.num_prompt_tokens(), 7);
}

}  // namespace
}  // namespace rotor::server
