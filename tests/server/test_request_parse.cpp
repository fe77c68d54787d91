// tests/server/test_request_parse.cpp — chat and completion request bodies: defaults, the
// accepted shapes, and a 400 naming the field for every malformed or out-of-range value.
#include <gtest/gtest.h>

#include "server/api_error.h"
#include "server/request.h"

namespace rotor::server {
namespace {

const SamplingDefaults kDefaults;
const RequestLimits kLimits{.max_logprobs = 20, .max_n = 4, .max_prompts = 6, .vocab_size = 1000};

ChatRequest chat(const std::string& body) { return parse_chat_request(parse_body(body), kDefaults, kLimits); }
CompletionRequest completion(const std::string& body) {
  return parse_completion_request(parse_body(body), kDefaults, kLimits);
}

// The status and param of the ApiError `f` throws.
template <class F>
std::pair<int, std::string> error_of(F&& f) {
  try {
    f();
  } catch (const ApiError& e) {
    return {e.status(), e.param().value_or("")};
  }
  return {0, "no error"};
}

TEST(RequestParse, ChatDefaults) {
  const ChatRequest r = chat(R"({"model": "m", "messages": [{"role": "user", "content": "hi"}]})");
  EXPECT_EQ(*r.model, "m");
  ASSERT_EQ(r.messages.size(), 1u);
  EXPECT_EQ(r.messages[0]["content"], "hi");
  EXPECT_TRUE(r.add_generation_prompt);
  EXPECT_FALSE(r.parse_tool_calls);
  EXPECT_EQ(r.gen.temperature, 1.0f);
  EXPECT_FALSE(r.gen.max_tokens);
  EXPECT_FALSE(r.gen.stream);
  EXPECT_FALSE(r.gen.logprobs);
  EXPECT_EQ(r.gen.n, 1);
}

TEST(RequestParse, ChatFields) {
  const ChatRequest r = chat(R"({"messages": [{"role": "system", "content": null},
      {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]},
      {"role": "assistant", "content": null, "tool_calls": [{"id": "1", "type": "function",
        "function": {"name": "f", "arguments": "{\"z\": 1, \"a\": 2}"}}]},
      {"role": "tool", "content": "42", "tool_call_id": "1"}],
    "temperature": 0, "top_p": 0.5, "top_k": -1, "min_p": 0.1, "seed": 5, "max_completion_tokens": 7,
    "max_tokens": 99, "stop": "x", "stream": true, "stream_options": {"include_usage": true},
    "logprobs": true, "top_logprobs": 3, "ignore_eos": true, "min_tokens": 2, "some_unknown_field": {"a": 1},
    "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}],
    "chat_template_kwargs": {"enable_thinking": false}, "n": 2})");
  EXPECT_EQ(r.messages[0]["content"], "");
  EXPECT_EQ(r.messages[1]["content"], "a\nb");
  EXPECT_EQ(r.messages[2]["tool_calls"][0]["function"]["arguments"].dump(), R"({"z":1,"a":2})");
  EXPECT_EQ(r.messages[3]["tool_call_id"], "1");
  EXPECT_EQ(r.gen.temperature, 0.0f);
  EXPECT_EQ(r.gen.top_k, 0);
  EXPECT_EQ(*r.gen.seed, 5);
  EXPECT_EQ(*r.gen.max_tokens, 7);  // max_completion_tokens wins
  EXPECT_EQ(r.gen.stop, std::vector<std::string>{"x"});
  EXPECT_TRUE(r.gen.stream && r.gen.include_usage && r.gen.ignore_eos);
  EXPECT_EQ(*r.gen.logprobs, 3);
  EXPECT_EQ(r.gen.min_tokens, 2);
  EXPECT_EQ(r.gen.n, 2);
  EXPECT_TRUE(r.parse_tool_calls);
  EXPECT_EQ(r.chat_template_kwargs["enable_thinking"], false);
}

TEST(RequestParse, ToolChoiceNoneDisablesParsing) {
  const ChatRequest r = chat(R"({"messages": [{"role": "user", "content": "x"}], "tool_choice": "none",
      "tools": [{"type": "function", "function": {"name": "f"}}]})");
  EXPECT_FALSE(r.parse_tool_calls);
}

TEST(RequestParse, StructuredOutputs) {
  using Kind = StructuredSpec::Kind;
  auto spec = [](const char* extra) {
    return chat(std::string(R"({"messages": [{"role": "user", "content": "x"}], )") + extra + "}").gen.structured;
  };
  EXPECT_EQ(spec(R"("response_format": {"type": "text"})").kind, Kind::None);
  EXPECT_EQ(spec(R"("response_format": {"type": "json_object"})").kind, Kind::JsonObject);
  const StructuredSpec js =
      spec(R"("response_format": {"type": "json_schema", "json_schema": {"name": "a", "schema": {"type": "integer"}}})");
  EXPECT_EQ(js.kind, Kind::JsonSchema);
  EXPECT_EQ(json::parse(js.text), json::parse(R"({"type": "integer"})"));
  EXPECT_EQ(spec(R"("guided_json": "{\"type\": \"string\"}")").text, R"({"type": "string"})");
  EXPECT_EQ(spec(R"("guided_regex": "[a-z]+")").kind, Kind::Regex);
  EXPECT_EQ(spec(R"("guided_choice": ["yes", "no"])").choices, (std::vector<std::string>{"yes", "no"}));
  EXPECT_EQ(spec(R"("guided_grammar": "root ::= \"a\"")").kind, Kind::Grammar);
  EXPECT_EQ(spec(R"("structured_outputs": {"choice": ["a"]})").field, "structured_outputs.choice");
  EXPECT_EQ(spec(R"("structured_outputs": {"json_object": true})").kind, Kind::JsonObject);
  const ChatRequest named = chat(R"({"messages": [{"role": "user", "content": "x"}],
      "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}},
                {"type": "function", "function": {"name": "g"}}],
      "tool_choice": {"type": "function", "function": {"name": "g"}}})");
  EXPECT_TRUE(named.parse_tool_calls);
  EXPECT_EQ(named.gen.structured.kind, Kind::ToolCalls);
  EXPECT_FALSE(named.gen.structured.several);
  ASSERT_EQ(named.gen.structured.tools.size(), 1u);
  EXPECT_EQ(named.gen.structured.tools[0].first, "g");
  const ChatRequest required = chat(R"({"messages": [{"role": "user", "content": "x"}], "tool_choice": "required",
      "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]})");
  EXPECT_TRUE(required.gen.structured.several);
  EXPECT_EQ(required.gen.structured.tools[0].second, R"({"type":"object"})");
}

TEST(RequestParse, GenerationConfigDefaults) {
  const SamplingDefaults d = SamplingDefaults::from_generation_config(
      json::parse(R"({"temperature": 0.7, "top_p": 0.8, "top_k": 20, "do_sample": true})"));
  const ChatRequest r = parse_chat_request(parse_body(R"({"messages": [{"role": "user", "content": "x"}]})"), d, kLimits);
  EXPECT_FLOAT_EQ(r.gen.temperature, 0.7f);
  EXPECT_FLOAT_EQ(r.gen.top_p, 0.8f);
  EXPECT_EQ(r.gen.top_k, 20);
  const ChatRequest r2 =
      parse_chat_request(parse_body(R"({"messages": [{"role": "user", "content": "x"}], "temperature": 0})"), d, kLimits);
  EXPECT_EQ(r2.gen.temperature, 0.0f);
}

TEST(RequestParse, CompletionPrompts) {
  EXPECT_EQ(*completion(R"({"prompt": "hello"})").prompts.at(0).text, "hello");
  EXPECT_EQ(completion(R"({"prompt": [1, 2, 3]})").prompts.at(0).ids, (std::vector<int32_t>{1, 2, 3}));
  const CompletionRequest many = completion(R"({"prompt": ["a", [5], "b"], "echo": true, "logprobs": 2})");
  ASSERT_EQ(many.prompts.size(), 3u);
  EXPECT_EQ(*many.prompts[0].text, "a");
  EXPECT_EQ(many.prompts[1].ids, std::vector<int32_t>{5});
  EXPECT_TRUE(many.echo);
  EXPECT_EQ(*many.gen.logprobs, 2);
  EXPECT_EQ(*completion(R"({"prompt": "x", "max_tokens": 3.0})").gen.max_tokens, 3);
}

TEST(RequestParse, BadRequests) {
  struct Case {
    const char* body;
    const char* param;
  };
  const std::vector<Case> chat_cases = {
      {R"({"messages": []})", "messages"},
      {R"({"messages": "hi"})", "messages"},
      {R"({})", "messages"},
      {R"({"messages": [{"content": "x"}]})", "messages"},
      {R"({"messages": [{"role": "wizard", "content": "x"}]})", "messages"},
      {R"({"messages": [{"role": "user", "content": 5}]})", "messages[0].content"},
      {R"({"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}]})",
       "messages[0].content"},
      {R"({"messages": [{"role": "user", "content": "x"}], "temperature": "hot"})", "temperature"},
      {R"({"messages": [{"role": "user", "content": "x"}], "temperature": -1})", "temperature"},
      {R"({"messages": [{"role": "user", "content": "x"}], "top_p": 0})", "top_p"},
      {R"({"messages": [{"role": "user", "content": "x"}], "top_p": 1.5})", "top_p"},
      {R"({"messages": [{"role": "user", "content": "x"}], "top_k": -2})", "top_k"},
      {R"({"messages": [{"role": "user", "content": "x"}], "min_p": 2})", "min_p"},
      {R"({"messages": [{"role": "user", "content": "x"}], "presence_penalty": 3})", "presence_penalty"},
      {R"({"messages": [{"role": "user", "content": "x"}], "frequency_penalty": -2.5})", "frequency_penalty"},
      {R"({"messages": [{"role": "user", "content": "x"}], "repetition_penalty": 0})", "repetition_penalty"},
      {R"({"messages": [{"role": "user", "content": "x"}], "temperature": 1e300})", "temperature"},
      {R"({"messages": [{"role": "user", "content": "x"}], "repetition_penalty": 1e39})", "repetition_penalty"},
      {R"({"messages": [{"role": "user", "content": "x"}], "top_p": -1e300})", "top_p"},
      {R"({"messages": [{"role": "user", "content": "x"}], "max_tokens": 2147483648})", "max_tokens"},
      {R"({"messages": [{"role": "user", "content": "x"}], "max_tokens": 0})", "max_tokens"},
      {R"({"messages": [{"role": "user", "content": "x"}], "max_completion_tokens": -5})", "max_completion_tokens"},
      {R"({"messages": [{"role": "user", "content": "x"}], "max_tokens": 1.5})", "max_tokens"},
      {R"({"messages": [{"role": "user", "content": "x"}], "max_tokens": 99999999999999999999})", "max_tokens"},
      {R"({"messages": [{"role": "user", "content": "x"}], "max_tokens": 4, "min_tokens": 5})", "min_tokens"},
      // max_completion_tokens wins, but max_tokens was not read at all: any value passed.
      {R"({"messages": [{"role": "user", "content": "x"}], "max_completion_tokens": 4, "max_tokens": "many"})",
       "max_tokens"},
      {R"({"messages": [{"role": "user", "content": "x"}], "max_completion_tokens": 4,
           "max_tokens": 9223372036854775808})", "max_tokens"},
      {R"({"messages": [{"role": "user", "content": "x"}], "n": 0})", "n"},
      {R"({"messages": [{"role": "user", "content": "x"}], "n": 5})", "n"},
      {R"({"messages": [{"role": "user", "content": "x"}], "stream": "yes"})", "stream"},
      {R"({"messages": [{"role": "user", "content": "x"}], "stream_options": {"include_usage": true}})", "stream_options"},
      {R"({"messages": [{"role": "user", "content": "x"}], "stop": 5})", "stop"},
      {R"({"messages": [{"role": "user", "content": "x"}], "stop": ["a", 1]})", "stop"},
      {R"({"messages": [{"role": "user", "content": "x"}], "top_logprobs": 2})", "top_logprobs"},
      {R"({"messages": [{"role": "user", "content": "x"}], "logprobs": true, "top_logprobs": 21})", "top_logprobs"},
      {R"({"messages": [{"role": "user", "content": "x"}], "seed": "1"})", "seed"},
      {R"({"messages": [{"role": "user", "content": "x"}], "tools": {}})", "tools"},
      {R"({"messages": [{"role": "user", "content": "x"}], "tools": [{"type": "function", "function": {}}]})", "tools"},
      {R"({"messages": [{"role": "user", "content": "x"}], "tool_choice": "required"})", "tool_choice"},
      {R"({"messages": [{"role": "user", "content": "x"}], "tool_choice": {"type": "function", "function": {"name": "g"}},
           "tools": [{"type": "function", "function": {"name": "f"}}]})", "tool_choice"},
      {R"({"messages": [{"role": "user", "content": "x"}], "tool_choice": "required", "guided_regex": "a",
           "tools": [{"type": "function", "function": {"name": "f"}}]})", "tool_choice"},
      {R"({"messages": [{"role": "user", "content": "x"}], "chat_template_kwargs": []})", "chat_template_kwargs"},
      {R"({"messages": [{"role": "user", "content": "x"}], "response_format": {"type": "xml"}})", "response_format"},
      {R"({"messages": [{"role": "user", "content": "x"}], "response_format": {"type": "json_schema"}})", "response_format"},
      {R"({"messages": [{"role": "user", "content": "x"}], "guided_regex": "a", "guided_choice": ["b"]})", "guided_choice"},
      {R"({"messages": [{"role": "user", "content": "x"}], "guided_choice": []})", "guided_choice"},
      {R"({"messages": [{"role": "user", "content": "x"}], "guided_choice": ["a"], "min_tokens": 2})", "min_tokens"},
      {R"({"messages": [{"role": "user", "content": "x"}], "guided_json": 5})", "guided_json"},
      {R"({"messages": [{"role": "user", "content": "x"}], "structured_outputs": {"structural_tag": {}}})",
       "structured_outputs.structural_tag"},
      {R"({"messages": [{"role": "user", "content": "x"}], "logit_bias": {"5": 10}})", "logit_bias"},
      {R"({"messages": [{"role": "user", "content": "x"}], "stop_token_ids": [-1]})", "stop_token_ids"},
      {R"({"messages": [{"role": "user", "content": "x"}], "model": 3})", "model"},
      {R"({"messages": [{"role": "user", "content": "x"}], "prompt_logprobs": 21})", "prompt_logprobs"},
      {R"({"messages": [{"role": "user", "content": "x"}], "prompt_logprobs": 1, "stream": true})", "prompt_logprobs"},
      {R"({"messages": [{"role": "user", "content": "x"}], "allowed_token_ids": []})", "allowed_token_ids"},
      {R"({"messages": [{"role": "user", "content": "x"}], "allowed_token_ids": [5000]})", "allowed_token_ids"},
      {R"({"messages": [{"role": "user", "content": "x"}], "bad_words": "no"})", "bad_words"},
      {R"({"messages": [{"role": "user", "content": "x"}], "bad_words": [1]})", "bad_words"},
      {R"({"messages": [{"role": "user", "content": "x"}], "truncate_prompt_tokens": 0})", "truncate_prompt_tokens"},
      {R"({"messages": [{"role": "user", "content": "x"}], "truncate_prompt_tokens": -2})", "truncate_prompt_tokens"},
      {R"({"messages": [{"role": "user", "content": "x"}], "priority": 3000000000})", "priority"},
      // Past INT64_MAX: these wrapped around to -1 or INT64_MIN and were taken (top_k -1 is off).
      {R"({"messages": [{"role": "user", "content": "x"}], "top_k": 18446744073709551615})", "top_k"},
      {R"({"messages": [{"role": "user", "content": "x"}], "seed": 9223372036854775808})", "seed"},
      {R"({"messages": [{"role": "user", "content": "x"}], "priority": 18446744073709551615})", "priority"},
      {R"({"messages": [{"role": "user", "content": "x"}], "truncate_prompt_tokens": 18446744073709551615})",
       "truncate_prompt_tokens"},
      {R"({"messages": [{"role": "user", "content": "x"}], "include_reasoning": "no"})", "include_reasoning"},
      {R"({"messages": [{"role": "user", "content": "x"}], "documents": [1]})", "documents"},
      {R"({"messages": [{"role": "user", "content": "x"}], "cache_salt": "s"})", "cache_salt"},
      {R"({"messages": [{"role": "user", "content": "x"}], "reasoning_effort": "low"})", "reasoning_effort"},
      {R"({"messages": [{"role": "user", "content": "x"}], "modalities": ["audio"]})", "modalities"},
  };
  for (const Case& c : chat_cases) {
    const auto [status, param] = error_of([&] { chat(c.body); });
    EXPECT_EQ(status, 400) << c.body;
    EXPECT_EQ(param, c.param) << c.body;
  }
  const std::vector<Case> completion_cases = {
      {R"({})", "prompt"},
      {R"({"prompt": 5})", "prompt"},
      {R"({"prompt": []})", "prompt"},
      {R"({"prompt": [[]]})", "prompt"},
      {R"({"prompt": [1, "a"]})", "prompt"},
      {R"({"prompt": [1, 2000]})", "prompt"},
      {R"({"prompt": [-1]})", "prompt"},
      {R"({"prompt": [1.5]})", "prompt"},
      {R"({"prompt": [{"a": 1}]})", "prompt"},
      {R"({"prompt": "x", "logprobs": 21})", "logprobs"},
      {R"({"prompt": "x", "logprobs": true})", "logprobs"},
      {R"({"prompt": "x", "echo": 1})", "echo"},
      {R"({"prompt": "x", "suffix": "y"})", "suffix"},
      {R"({"prompt": ["a", "b", "c", "d", "e", "f", "g"]})", "prompt"},          // 7 prompts, at most 6
      {R"({"prompt": ["a", "b"], "n": 4})", "prompt"},                            // 8 choices
      {R"({"prompt": "x", "max_tokens": 0})", "max_tokens"},                      // 0 only with echo
      {R"({"prompt": "x", "prompt_embeds": "AAAA"})", "prompt_embeds"},
      {R"({"prompt": "x", "guided_whitespace_pattern": " "})", "guided_whitespace_pattern"},
      {R"({"prompt": "x", "guided_decoding_backend": "xgrammar"})", "guided_decoding_backend"},
  };
  for (const Case& c : completion_cases) {
    const auto [status, param] = error_of([&] { completion(c.body); });
    EXPECT_EQ(status, 400) << c.body;
    EXPECT_EQ(param, c.param) << c.body;
  }
}

TEST(RequestParse, VllmExtras) {
  const ChatRequest r = chat(R"({"messages": [{"role": "user", "content": "x"}], "prompt_logprobs": 2,
    "allowed_token_ids": [1, 2], "bad_words": ["a b", " c"], "truncate_prompt_tokens": -1, "priority": -4,
    "include_reasoning": false, "parallel_tool_calls": false, "echo": true, "request_id": "r1",
    "documents": [{"title": "t", "text": "d"}], "chat_template_kwargs": {"documents": []},
    "logit_bias": {}, "length_penalty": 1, "modalities": ["text"], "user": "me"})");
  EXPECT_EQ(*r.gen.prompt_logprobs, 2);
  EXPECT_EQ(r.gen.allowed_token_ids, (std::vector<int32_t>{1, 2}));
  EXPECT_EQ(r.gen.bad_words, (std::vector<std::string>{"a b", " c"}));
  EXPECT_EQ(*r.gen.truncate_prompt_tokens, -1);
  EXPECT_EQ(r.gen.priority, -4);
  EXPECT_EQ(r.gen.request_id, "r1");
  EXPECT_FALSE(r.include_reasoning || r.parallel_tool_calls);
  EXPECT_TRUE(r.echo);
  EXPECT_TRUE(r.chat_template_kwargs["documents"].empty());  // chat_template_kwargs win, as in vLLM
  const CompletionRequest c = completion(R"({"prompt": "x", "echo": true, "max_tokens": 0, "logprobs": 2})");
  EXPECT_TRUE(c.echo_only);
  EXPECT_EQ(*c.gen.max_tokens, 0);
  EXPECT_EQ(*c.gen.prompt_logprobs, 2);  // echo with logprobs: the prompt's too
  EXPECT_FALSE(completion(R"({"prompt": "x", "logprobs": 2})").gen.prompt_logprobs);
}

TEST(RequestParse, PromptsAndChoicesWithinTheLimit) {
  EXPECT_EQ(completion(R"({"prompt": ["a", "b", "c", "d", "e", "f"]})").prompts.size(), 6u);
  const CompletionRequest r = completion(R"({"prompt": ["a", "b", "c"], "n": 2})");
  EXPECT_EQ(r.prompts.size() * r.gen.n, 6u);
}

TEST(RequestParse, MaxTokensFieldIsRemembered) {
  EXPECT_EQ(chat(R"({"messages": [{"role": "user", "content": "x"}], "max_completion_tokens": 5})").gen.max_tokens_field,
            "max_completion_tokens");
  EXPECT_EQ(chat(R"({"messages": [{"role": "user", "content": "x"}], "max_tokens": 5})").gen.max_tokens_field,
            "max_tokens");
  const ChatRequest big = chat(R"({"messages": [{"role": "user", "content": "x"}], "max_tokens": 2147483647})");
  EXPECT_EQ(*big.gen.max_tokens, 2147483647);  // accepted here; the context check refuses it (64-bit)
}

TEST(RequestParse, MalformedBodies) {
  for (const char* body : {"", "{", "[1, 2]", "\"x\"", "{\"a\": }", "{\"a\": \"\xff\"}", "{\"a\": \"\\ud800\"}"}) {
    const auto [status, param] = error_of([&] { parse_body(body); });
    EXPECT_EQ(status, 400) << body;
  }
  std::string deep(100, '[');
  deep = "{\"a\": " + deep + std::string(100, ']') + "}";
  EXPECT_EQ(error_of([&] { parse_body(deep); }).first, 400);
}

// A value of a few hundred thousand levels followed by another key: nlohmann grows the object
// by copying what it holds, recursively, which overflowed the stack before the depth was checked.
TEST(RequestParse, DeepBodiesAreRefusedWithoutBeingBuilt) {
  auto nested = [](size_t arrays) { return std::string(arrays, '[') + "1" + std::string(arrays, ']'); };
  const std::string deep = "{\"a\": " + nested(300000) + ", \"b\": 1, \"c\": 2}";
  try {
    parse_body(deep);
    ADD_FAILURE() << "a body 300000 levels deep was accepted";
  } catch (const ApiError& e) {
    EXPECT_EQ(e.status(), 400);
    EXPECT_STREQ(e.what(), "the request body is nested deeper than 64 levels");
  }
  EXPECT_NO_THROW(parse_body("{\"a\": " + nested(62) + "}"));  // 64 levels: the object, 62 arrays, the number
  EXPECT_EQ(error_of([&] { parse_body("{\"a\": " + nested(63) + "}"); }).first, 400);
}

TEST(RequestParse, DeepToolCallArgumentsAreRefused) {
  auto call = [](const std::string& arguments) {
    return chat(json({{"messages",
                       {{{"role", "assistant"},
                         {"tool_calls", {{{"function", {{"name", "f"}, {"arguments", arguments}}}}}}}}}})
                    .dump());
  };
  const std::string deep = "{\"a\": " + std::string(300000, '[') + std::string(300000, ']') + ", \"b\": 1}";
  const auto [status, param] = error_of([&] { call(deep); });
  EXPECT_EQ(status, 400);
  EXPECT_EQ(param, "messages[0].tool_calls");
  EXPECT_EQ(call("{\"a\": [[1]]}").messages[0]["tool_calls"][0]["function"]["arguments"], json({{"a", {{1}}}}));
  EXPECT_EQ(call("{\"a\": [[1]").messages[0]["tool_calls"][0]["function"]["arguments"], "{\"a\": [[1]");
}

TEST(RequestParse, IntegersPastInt64AreOutOfRange) {
  try {
    chat(R"({"messages": [{"role": "user", "content": "x"}], "n": 18446744073709551615})");
    ADD_FAILURE() << "n = 2^64 - 1 was accepted";
  } catch (const ApiError& e) {
    EXPECT_STREQ(e.what(), "'n' is out of range (got 18446744073709551615)");  // not "at least 1 (got -1)"
  }
  EXPECT_EQ(*chat(R"({"messages": [{"role": "user", "content": "x"}], "seed": 9223372036854775807})").gen.seed,
            INT64_MAX);
}

// Text from the request in a message is quoted, escaped and cut: a role of 10 KB with newlines
// made a 10 KB message of several lines.
TEST(RequestParse, MessagesQuoteRequestTextShortAndOnOneLine) {
  const std::string long_text = "line one\nline two " + std::string(10000, 'x');
  const json user = {{"role", "user"}, {"content", "x"}};
  auto message_of = [](auto&& f) -> std::string {
    try {
      f();
    } catch (const ApiError& e) {
      return e.what();
    }
    return "no error";
  };
  const std::vector<std::string> messages = {
      message_of([&] { chat(json({{"messages", {{{"role", long_text}}}}}).dump()); }),
      message_of([&] { chat(json({{"messages", {{{"role", "user"}, {"content", {{{"type", long_text}}}}}}}}).dump()); }),
      message_of([&] { chat(json({{"messages", {user}}, {"response_format", {{"type", long_text}}}}).dump()); }),
      message_of([&] { chat(json({{"messages", {user}}, {"structured_outputs", {{long_text, 1}}}}).dump()); }),
      message_of([&] {
        parse_responses_request(parse_body(json({{"input", {{{"type", long_text}}}}}).dump()), kDefaults, kLimits);
      }),
      message_of([&] {
        parse_responses_request(parse_body(json({{"input", "x"}, {"include", {long_text}}}).dump()), kDefaults, kLimits);
      }),
      message_of([&] { parse_body("{\"prompt\": \"" + long_text); }),  // a string never closed
  };
  for (const std::string& m : messages) {
    EXPECT_EQ(m.find('\n'), std::string::npos) << m;
    EXPECT_LT(m.size(), 300u) << m;
    EXPECT_NE(m.find("line one"), std::string::npos) << m;
  }
  EXPECT_NE(messages[0].find(R"((got "line one\nline two xxxxxxxxxxxxxxxxxxxxxx"... (10018 bytes)))"), std::string::npos)
      << messages[0];
}

TEST(RequestParse, NullFieldsAreDefaults) {
  const ChatRequest r = chat(R"({"messages": [{"role": "user", "content": "x"}], "temperature": null, "stop": null,
      "max_tokens": null, "stream_options": null, "tools": null, "seed": null})");
  EXPECT_EQ(r.gen.temperature, 1.0f);
  EXPECT_TRUE(r.gen.stop.empty());
  EXPECT_FALSE(r.gen.max_tokens);
}

TEST(ApiError, BodyMessagesAreOneShortLine) {
  const std::string message = "first\nsecond\t\x01\xff" + std::string(5000, 'y') + "end";
  const std::string shown = ApiError(400, message).body()["error"]["message"];
  EXPECT_LE(shown.size(), kMaxErrorMessage);
  EXPECT_TRUE(shown.starts_with("first\\nsecond\\t\\x01\\xffyyy")) << shown;
  EXPECT_TRUE(shown.ends_with("yyyend")) << shown;
  EXPECT_NE(shown.find(" ... "), std::string::npos);
  EXPECT_EQ(ApiError(400, "short").body()["error"]["message"], "short");
}

TEST(ApiError, Shape) {
  const json b = ApiError(404, "The model `x` does not exist.", "model").body();
  EXPECT_EQ(b["error"]["message"], "The model `x` does not exist.");
  EXPECT_EQ(b["error"]["type"], "NotFoundError");
  EXPECT_EQ(b["error"]["param"], "model");
  EXPECT_EQ(b["error"]["code"], 404);
}

}  // namespace
}  // namespace rotor::server
