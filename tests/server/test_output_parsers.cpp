// tests/server/test_output_parsers.cpp — Qwen3 reasoning (<think>) and tool-call
// (<tool_call>) parsing: the expected split, and the same result for any streaming split.
#include <gtest/gtest.h>

#include <random>

#include "server/json.h"
#include "server/reasoning_parser.h"
#include "server/tool_parser.h"

namespace rotor::server {
namespace {

std::vector<std::string> random_pieces(const std::string& text, std::mt19937& rng) {
  std::vector<std::string> pieces;
  for (size_t i = 0; i < text.size();) {
    const size_t n = std::min<size_t>(text.size() - i, 1 + rng() % 5);
    pieces.push_back(text.substr(i, n));
    i += n;
  }
  return pieces;
}

ReasoningDelta reason(const std::vector<std::string>& pieces, bool opened = false) {
  ReasoningParser p(opened);
  ReasoningDelta all;
  for (const auto& s : pieces) {
    const ReasoningDelta d = p.push(s);
    all.reasoning += d.reasoning;
    all.content += d.content;
  }
  const ReasoningDelta d = p.flush();
  all.reasoning += d.reasoning;
  all.content += d.content;
  return all;
}

TEST(ReasoningParser, SplitsThinkBlock) {
  const ReasoningDelta d = reason({"<think>\nLet me see.\n</think>\n\nParis."});
  EXPECT_EQ(d.reasoning, "\nLet me see.\n");
  EXPECT_EQ(d.content, "\n\nParis.");
}

TEST(ReasoningParser, NoThinkIsContent) {
  EXPECT_EQ(reason({"Paris <think> is"}).content, "Paris <think> is");
  EXPECT_EQ(reason({"Paris <think> is"}).reasoning, "");
  EXPECT_EQ(reason({"<thi"}).content, "<thi");
}

TEST(ReasoningParser, UnclosedThinkIsReasoning) {
  const ReasoningDelta d = reason({"<think>", "still thinking </thi"});
  EXPECT_EQ(d.reasoning, "still thinking </thi");
  EXPECT_EQ(d.content, "");
}

TEST(ReasoningParser, PromptThatOpensThink) {
  EXPECT_TRUE(ReasoningParser::prompt_opens_think("<|im_start|>assistant\n<think>\n"));
  EXPECT_FALSE(ReasoningParser::prompt_opens_think("<|im_start|>assistant\n<think>\n\n</think>\n\n"));
  EXPECT_FALSE(ReasoningParser::prompt_opens_think("<|im_start|>assistant\n"));
  const ReasoningDelta d = reason({"hmm</think>answer"}, true);
  EXPECT_EQ(d.reasoning, "hmm");
  EXPECT_EQ(d.content, "answer");
}

TEST(ReasoningParser, StreamingEqualsOneShot) {
  std::mt19937 rng(3);
  const std::vector<std::string> texts = {"<think>\nabc</think>def", "<think></think>", "<think>a</thin", "plain text",
                                          "<th", "<think>x</think>y</think>z", "</think>"};
  for (const auto& t : texts) {
    const ReasoningDelta one = reason({t});
    for (int i = 0; i < 50; ++i) {
      const ReasoningDelta many = reason(random_pieces(t, rng));
      ASSERT_EQ(many.reasoning, one.reasoning) << t;
      ASSERT_EQ(many.content, one.content) << t;
    }
  }
}

ToolDelta tools(const std::vector<std::string>& pieces) {
  ToolCallParser p;
  ToolDelta all;
  auto add = [&](ToolDelta d) {
    all.content += d.content;
    for (auto& c : d.calls) all.calls.push_back(std::move(c));
  };
  for (const auto& s : pieces) add(p.push(s));
  add(p.flush());
  return all;
}

TEST(ToolCallParser, OneCall) {
  const ToolDelta d = tools({"<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\", \"unit\": \"c\"}}\n</tool_call>"});
  ASSERT_EQ(d.calls.size(), 1u);
  EXPECT_EQ(d.calls[0].name, "get_weather");
  EXPECT_EQ(json::parse(d.calls[0].arguments), json::parse(R"({"city": "Paris", "unit": "c"})"));
  EXPECT_EQ(d.calls[0].arguments, R"({"city":"Paris","unit":"c"})");  // key order kept
  EXPECT_TRUE(d.calls[0].id.starts_with("chatcmpl-tool-"));
  EXPECT_EQ(d.content, "");
}

TEST(ToolCallParser, ContentBeforeAndBetweenCalls) {
  const ToolDelta d = tools({"Let me check.\n<tool_call>\n{\"name\": \"a\", \"arguments\": {}}\n</tool_call>\n"
                             "<tool_call>\n{\"name\": \"b\", \"arguments\": {\"x\": 1}}\n</tool_call>\n"});
  ASSERT_EQ(d.calls.size(), 2u);
  EXPECT_EQ(d.calls[0].name, "a");
  EXPECT_EQ(d.calls[1].name, "b");
  EXPECT_EQ(d.calls[1].arguments, R"({"x":1})");
  EXPECT_EQ(d.content, "Let me check.\n");
  EXPECT_NE(d.calls[0].id, d.calls[1].id);
}

TEST(ToolCallParser, InvalidBlockStaysContent) {
  const ToolDelta d = tools({"<tool_call>not json</tool_call> ok"});
  EXPECT_TRUE(d.calls.empty());
  EXPECT_EQ(d.content, "<tool_call>not json</tool_call> ok");
}

// A grammar can make the model write arguments nested a hundred thousand deep: parsing them
// built a value that copying (or a key after it) overflowed the stack with.
TEST(ToolCallParser, DeepArgumentsStayContent) {
  const std::string body = "\n{\"name\": \"f\", \"arguments\": {\"a\": " + std::string(100000, '[') +
                           std::string(100000, ']') + ", \"b\": 1}}\n";
  const ToolDelta d = tools({"<tool_call>" + body + "</tool_call>"});
  EXPECT_TRUE(d.calls.empty());
  EXPECT_EQ(d.content, "<tool_call>" + body + "</tool_call>");
  EXPECT_EQ(tools({"<tool_call>{\"name\": \"f\", \"arguments\": [[[1]]]}</tool_call>"}).calls.at(0).arguments, "[[[1]]]");
}

TEST(ToolCallParser, UnclosedCallAtEnd) {
  ToolDelta d = tools({"<tool_call>\n{\"name\": \"f\", \"arguments\": {\"q\": 2}}\n"});
  ASSERT_EQ(d.calls.size(), 1u);
  EXPECT_EQ(d.calls[0].name, "f");
  d = tools({"<tool_call>\n{\"name\": \"f\", \"argu"});
  EXPECT_TRUE(d.calls.empty());
  EXPECT_EQ(d.content, "<tool_call>\n{\"name\": \"f\", \"argu");
}

TEST(ToolCallParser, StreamingEqualsOneShot) {
  std::mt19937 rng(11);
  const std::vector<std::string> texts = {
      "Sure.<tool_call>{\"name\": \"a\", \"arguments\": {\"k\": [1, 2]}}</tool_call>\n\n<tool_call>{\"name\": \"b\"}</tool_call>\n",
      "no calls <tool here", "<tool_call>{\"bad\": 1}</tool_call>", "<tool_call>{\"name\": \"x\"}</tool_call> tail text"};
  for (const auto& t : texts) {
    const ToolDelta one = tools({t});
    for (int i = 0; i < 50; ++i) {
      const ToolDelta many = tools(random_pieces(t, rng));
      ASSERT_EQ(many.content, one.content) << t;
      ASSERT_EQ(many.calls.size(), one.calls.size()) << t;
      for (size_t c = 0; c < one.calls.size(); ++c) {
        EXPECT_EQ(many.calls[c].name, one.calls[c].name);
        EXPECT_EQ(many.calls[c].arguments, one.calls[c].arguments);
      }
    }
  }
}

}  // namespace
}  // namespace rotor::server
