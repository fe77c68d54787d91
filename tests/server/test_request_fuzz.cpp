// tests/server/test_request_fuzz.cpp — a seeded fuzz of request bodies. Valid chat, completion,
// responses, tokenize and detokenize bodies with many fields are mutated at the JSON-value level
// (values of other types, odd numbers, fields dropped, added or given twice, deep nesting, long
// strings, invalid UTF-8, NULs) and at the byte level (truncation, flipped, inserted, deleted
// and repeated bytes), then run through parse_body and the request parsers and, for a share of
// them, through Server::handle over an engine whose runner answers eos (chat template,
// tokenizer, grammar compilation, Generation's checks and submission).
// The property: the parsers accept an input with values the engine takes, or refuse it with an
// ApiError (400) whose message is one non-empty line of bounded length, and throw nothing else;
// the server answers 200 or an error body (400, or 404 for the model) with such a message, not
// an nlohmann exception's; no input takes a minute (a hang: the slowest known, a schema enum of
// a 100 KB string, takes ~8 s in grammar compilation, ~30 s under AddressSanitizer).
// ROTOR_TEST_SEED=<n> sets the seed (printed), ROTOR_FUZZ_INPUTS=<n> the number of inputs;
// ROTOR_FUZZ_SAVE=<dir> writes each failing input there whole, ROTOR_FUZZ_TRACE=1 prints every
// input before it runs (for a crash).
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <typeinfo>

#include <fmt/format.h>

#include "engine/engine.h"
#include "engine/step_runner.h"
#include "server/api_error.h"
#include "server/server.h"
#include "tests/server/json_mutator.h"
#include "tests/support/fuzz_inputs.h"
#include "tokenizer/chat_template.h"

namespace rotor::server {
namespace {

using rotor::test::env_number;
using rotor::test::excerpt;

enum class Api { Chat, Completion, Responses, Tokenize, Detokenize };

struct Seed {
  Api api;
  json body;
};

const json kUser = {{"role", "user"}, {"content", "What is the weather in Paris?"}};
const json kTool = {{"type", "function"},
                    {"function",
                     {{"name", "get_weather"},
                      {"description", "Weather of a city"},
                      {"parameters",
                       {{"type", "object"},
                        {"properties", {{"city", {{"type", "string"}}}, {"days", {{"type", "integer"}}}}},
                        {"required", {"city"}}}}}}};

// Valid bodies, each using many fields.
std::vector<Seed> seeds() {
  json chat = {
      {"model", "fuzz"},
      {"messages",
       {{{"role", "system"}, {"content", "Be brief."}},
        {{"role", "user"}, {"content", {{{"type", "text"}, {"text", "Weather"}}, {{"type", "text"}, {"text", "Paris"}}}}},
        {{"role", "assistant"},
         {"content", nullptr},
         {"reasoning_content", "a tool is needed"},
         {"tool_calls",
          {{{"id", "c1"}, {"type", "function"},
            {"function", {{"name", "get_weather"}, {"arguments", "{\"city\": \"Paris\", \"days\": [1, 2]}"}}}}}}},
        {{"role", "tool"}, {"tool_call_id", "c1"}, {"name", "get_weather"}, {"content", "22 C"}}}},
      {"tools", {kTool}},
      {"tool_choice", "auto"},
      {"temperature", 0.7}, {"top_p", 0.9}, {"top_k", 20}, {"min_p", 0.05}, {"presence_penalty", 0.5},
      {"frequency_penalty", -0.5}, {"repetition_penalty", 1.1}, {"seed", 42}, {"max_completion_tokens", 16},
      {"max_tokens", 32}, {"min_tokens", 1}, {"stop", {"\n\n", "END"}}, {"stop_token_ids", {151643}},
      {"ignore_eos", false}, {"skip_special_tokens", true}, {"include_stop_str_in_output", false},
      {"n", 2}, {"stream", true}, {"stream_options", {{"include_usage", true}, {"continuous_usage_stats", true}}},
      {"logprobs", true}, {"top_logprobs", 3}, {"allowed_token_ids", {1, 2, 3, 151643}}, {"bad_words", {"rain"}},
      {"truncate_prompt_tokens", -1}, {"priority", 0}, {"request_id", "fuzz-1"}, {"return_tokens_as_token_ids", true},
      {"chat_template_kwargs", {{"enable_thinking", false}}}, {"documents", {{{"title", "t"}, {"text", "d"}}}},
      {"include_reasoning", false}, {"parallel_tool_calls", false}, {"echo", false},
      {"add_generation_prompt", true}, {"user", "me"}, {"logit_bias", json::object()}, {"length_penalty", 1},
      {"modalities", {"text"}}};
  json schema_chat = {
      {"messages", {kUser}},
      {"response_format",
       {{"type", "json_schema"},
        {"json_schema",
         {{"name", "w"},
          {"schema",
           {{"type", "object"},
            {"properties", {{"t", {{"type", "number"}, {"minimum", -50}, {"maximum", 60}}},
                            {"s", {{"type", "string"}, {"maxLength", 8}}},
                            {"k", {{"enum", {"sun", "rain"}}}}}},
            {"required", {"t"}}}}}}}},
      {"max_tokens", 8}, {"temperature", 0}};
  json forced_chat = {{"messages", {kUser}}, {"tools", {kTool}},
                      {"tool_choice", {{"type", "function"}, {"function", {{"name", "get_weather"}}}}}};
  json regex_chat = {{"messages", {kUser}}, {"guided_regex", "(sun|rain)[0-9]{1,3}"}, {"prompt_logprobs", 2}};
  json choice_chat = {{"messages", {kUser}}, {"structured_outputs", {{"choice", {"sun", "rain"}}}}};
  json grammar_chat = {{"messages", {kUser}}, {"guided_grammar", "root ::= \"a\" (\"b\" | \"c\")*"}};
  json continue_chat = {
      {"messages", {kUser, {{"role", "assistant"}, {"content", "It is"}}}},
      {"add_generation_prompt", false}, {"continue_final_message", true}, {"echo", true}};
  json completion = {{"model", "fuzz"}, {"prompt", "Once upon a time"}, {"echo", true}, {"logprobs", 2},
                     {"suffix", ""}, {"n", 2}, {"best_of", 2}, {"max_tokens", 12}, {"stop", "\n"},
                     {"temperature", 1.0}, {"seed", 7}, {"stream", false}, {"bad_words", {"dragon", " castle"}}};
  json completion_ids = {{"prompt", {{1, 2, 3}, "text prompt", {151643}}}, {"max_tokens", 4},
                         {"prompt_logprobs", 1}, {"truncate_prompt_tokens", 2}, {"guided_json", {{"type", "integer"}}}};
  json echo_only = {{"prompt", {9707, 1879}}, {"echo", true}, {"max_tokens", 0}, {"logprobs", 0}};
  json bounded_schema = {
      {"prompt", "Numbers:"},
      {"max_tokens", 16},
      {"structured_outputs",
       {{"json",
         {{"type", "object"},
          {"properties",
           {{"n", {{"type", "integer"}, {"minimum", 0}, {"exclusiveMaximum", 100}}},
            {"x", {{"type", "number"}, {"minimum", -1.5}, {"maximum", 2.25}}},
            {"l", {{"type", "array"}, {"items", {{"type", "string"}, {"maxLength", 4}}}, {"minItems", 1}, {"maxItems", 3}}}}},
          {"required", {"n"}}}}}}};
  json responses = {
      {"model", "fuzz"},
      {"instructions", "Use tools."},
      {"input",
       {{{"role", "user"}, {"content", {{{"type", "input_text"}, {"text", "Weather in Paris?"}}}}},
        {{"type", "reasoning"}, {"summary", json::array()}},
        {{"type", "function_call"}, {"call_id", "c1"}, {"name", "get_weather"}, {"arguments", "{\"city\": \"Paris\"}"}},
        {{"type", "function_call_output"}, {"call_id", "c1"}, {"output", "22 C"}},
        {{"type", "message"}, {"role", "assistant"}, {"content", {{{"type", "output_text"}, {"text", "22 C."}}}}}}},
      {"tools", {{{"type", "function"}, {"name", "get_weather"}, {"parameters", kTool["function"]["parameters"]}}}},
      {"tool_choice", {{"type", "function"}, {"name", "get_weather"}}},
      {"max_output_tokens", 16}, {"temperature", 0.5}, {"top_p", 0.9}, {"top_logprobs", 2},
      {"include", {"message.output_text.logprobs"}}, {"text", {{"format", {{"type", "text"}}}}},
      {"truncation", "disabled"}, {"metadata", {{"k", "v"}}}, {"stream", true}, {"parallel_tool_calls", true},
      {"top_k", 5}, {"stop", {"x"}}, {"request_id", "r1"}};
  json responses_text = {{"input", "hi"}, {"guided_choice", {"yes", "no"}}, {"service_tier", "auto"}};
  return {{Api::Chat, chat},
          {Api::Chat, schema_chat},
          {Api::Chat, forced_chat},
          {Api::Chat, regex_chat},
          {Api::Chat, choice_chat},
          {Api::Chat, grammar_chat},
          {Api::Chat, continue_chat},
          {Api::Completion, completion},
          {Api::Completion, completion_ids},
          {Api::Completion, echo_only},
          {Api::Completion, bounded_schema},
          {Api::Responses, responses},
          {Api::Responses, responses_text},
          {Api::Tokenize, {{"prompt", "hello world"}, {"return_token_strs", true}}},
          {Api::Tokenize, {{"messages", {kUser}}, {"tools", {kTool}}}},
          {Api::Detokenize, {{"tokens", {9707, 1879, 151643}}}}};
}

// Field names the parsers read, and ones they refuse: the mutator adds them to random objects.
const std::vector<std::string> kFieldNames = {
    "model", "messages", "prompt", "input", "instructions", "temperature", "top_p", "top_k", "min_p",
    "presence_penalty", "frequency_penalty", "repetition_penalty", "seed", "max_tokens", "max_completion_tokens",
    "max_output_tokens", "min_tokens", "ignore_eos", "stop", "stop_token_ids", "include_stop_str_in_output",
    "skip_special_tokens", "return_tokens_as_token_ids", "n", "best_of", "stream", "stream_options",
    "include_usage", "continuous_usage_stats", "prompt_logprobs", "allowed_token_ids", "bad_words",
    "truncate_prompt_tokens", "priority", "request_id", "response_format", "json_schema", "schema", "guided_json",
    "guided_regex", "guided_choice", "guided_grammar", "structured_outputs", "json", "regex", "choice", "grammar",
    "json_object", "logprobs", "top_logprobs", "echo", "suffix", "tools", "tool_choice", "function", "name",
    "arguments", "parameters", "add_generation_prompt", "continue_final_message", "documents",
    "chat_template_kwargs", "enable_thinking", "include_reasoning", "parallel_tool_calls", "chat_template",
    "include", "text", "format", "truncation", "role", "content", "type", "tool_calls", "tool_call_id", "call_id",
    "output", "reasoning_content", "tokens", "return_token_strs", "logit_bias", "use_beam_search",
    "length_penalty", "cache_salt", "return_token_ids", "modalities", "reasoning_effort", "previous_response_id",
    "background", "metadata", "user", "structural_tag", "disable_any_whitespace", "some_unknown_field"};

// The integer fields each API reads: a number past int64 must never be accepted in them.
const std::vector<std::string> kIntegerFields[] = {
    {"top_k", "seed", "max_tokens", "max_completion_tokens", "min_tokens", "n", "best_of", "prompt_logprobs",
     "truncate_prompt_tokens", "priority", "top_logprobs"},
    {"top_k", "seed", "max_tokens", "max_completion_tokens", "min_tokens", "n", "best_of", "prompt_logprobs",
     "truncate_prompt_tokens", "priority", "logprobs"},
    {"top_k", "seed", "min_tokens", "truncate_prompt_tokens", "priority", "max_output_tokens", "top_logprobs"}};

// What the parsers accepted must be what the engine takes (engine.cpp's validate), within the limits.
std::string check_generation_options(const GenerationOptions& g, const RequestLimits& lim, bool zero_max_tokens) {
  auto ids_ok = [&](const std::vector<int32_t>& ids) {
    for (int32_t t : ids)
      if (t < 0 || t >= lim.vocab_size) return false;
    return true;
  };
  if (!(g.temperature >= 0.0f && std::isfinite(g.temperature))) return "temperature";
  if (!(g.top_p > 0.0f && g.top_p <= 1.0f)) return "top_p";
  if (g.top_k < 0) return "top_k";
  if (!(g.min_p >= 0.0f && g.min_p <= 1.0f)) return "min_p";
  if (!(g.presence_penalty >= -2.0f && g.presence_penalty <= 2.0f)) return "presence_penalty";
  if (!(g.frequency_penalty >= -2.0f && g.frequency_penalty <= 2.0f)) return "frequency_penalty";
  if (!(g.repetition_penalty > 0.0f && std::isfinite(g.repetition_penalty))) return "repetition_penalty";
  if (g.max_tokens && *g.max_tokens < (zero_max_tokens ? 0 : 1)) return "max_tokens";
  if (g.min_tokens < 0 || (g.max_tokens && g.min_tokens > *g.max_tokens)) return "min_tokens";
  if (g.n < 1 || g.n > lim.max_n) return "n";
  if (g.logprobs && (*g.logprobs < 0 || *g.logprobs > lim.max_logprobs)) return "logprobs";
  if (g.prompt_logprobs && (*g.prompt_logprobs < 0 || *g.prompt_logprobs > lim.max_logprobs)) return "prompt_logprobs";
  if (!ids_ok(g.stop_token_ids)) return "stop_token_ids";
  if (!ids_ok(g.allowed_token_ids)) return "allowed_token_ids";
  if (g.truncate_prompt_tokens && (*g.truncate_prompt_tokens < -1 || *g.truncate_prompt_tokens == 0))
    return "truncate_prompt_tokens";
  if ((g.include_usage || g.continuous_usage_stats) && !g.stream) return "stream_options";
  if (g.structured.kind != StructuredSpec::Kind::None && g.structured.field.empty()) return "structured field";
  return "";
}

std::string check_chat(const ChatRequest& r, const RequestLimits& lim) {
  if (!r.messages.is_array() || r.messages.empty()) return "messages";
  for (const json& m : r.messages)
    if (!m.is_object() || !m.contains("role") || !m["role"].is_string() || !m.contains("content") ||
        !m["content"].is_string())
      return "a message";
  return check_generation_options(r.gen, lim, false);
}

std::string check_completion(const CompletionRequest& r, const RequestLimits& lim) {
  if (r.prompts.empty()) return "prompts";
  for (const CompletionPrompt& p : r.prompts)
    if (!p.text && p.ids.empty()) return "an empty prompt";
  if (static_cast<int64_t>(r.prompts.size()) * r.gen.n > lim.max_prompts) return "choices";
  return check_generation_options(r.gen, lim, r.echo_only);
}

// A refusal's message: one non-empty line, short enough to read.
std::string check_message(const std::string& m) {
  if (m.empty()) return "an empty message";
  if (m.find_first_of("\r\n") != std::string::npos) return "a message of several lines";
  if (m.size() > kMaxErrorMessage) return "a message of " + std::to_string(m.size()) + " bytes";
  return "";
}

// Answers eos at every sampling step: submitted requests end at once.
class EosRunner final : public StepRunner {
 public:
  explicit EosRunner(int32_t eos) : eos_(eos) {}
  std::unique_ptr<PreparedStep> prepare(const SchedulerOutput& out) override {
    auto step = std::make_unique<Step>();
    step->out = out;
    return step;
  }
  RunnerOutput execute(PreparedStep& prepared) override {
    RunnerOutput res;
    for (const ScheduledRequest& s : static_cast<Step&>(prepared).out.scheduled) {
      SampledToken t;
      t.req_id = s.req_id;
      if (s.sample) t.token = eos_;
      res.outputs.push_back(std::move(t));
    }
    return res;
  }

 private:
  struct Step final : PreparedStep {
    SchedulerOutput out;
  };
  int32_t eos_;
};

class RequestFuzz : public ::testing::Test {
 protected:
  void SetUp() override {
    tokenizer_ = Tokenizer::embedded_qwen3();
    const int32_t im_end = *tokenizer_->token_to_id("<|im_end|>");
    EngineConfig c;
    c.max_num_seqs = 16;
    c.max_num_batched_tokens = 4096;
    EngineLimits lim;
    lim.max_model_len = 4096;
    lim.vocab_size = 151936;
    lim.max_logprobs = 20;
    lim.num_blocks = 4096;
    lim.eos_token_ids = {im_end};
    engine_ = std::make_unique<Engine>(c, lim, std::make_unique<EosRunner>(im_end));
    ServerOptions o;
    o.model_names = {"fuzz"};
    o.reasoning_parser = true;
    server_ = std::make_unique<Server>(*engine_, tokenizer_, ChatTemplate::embedded_qwen3(), o);
  }

  // Runs one input through parse_body and its API's parser; "" or what went wrong.
  std::string parse(Api api, const std::string& text) {
    const RequestLimits& lim = server_->limits();
    const SamplingDefaults& d = server_->options().sampling_defaults;
    try {
      const json body = parse_body(text);
      std::string bad;
      if (api == Api::Chat) bad = check_chat(parse_chat_request(body, d, lim), lim);
      if (api == Api::Completion) bad = check_completion(parse_completion_request(body, d, lim), lim);
      if (api == Api::Responses) bad = check_chat(parse_responses_request(body, d, lim).chat, lim);
      if (!bad.empty()) return "accepted with a bad " + bad;
      for (const std::string& f : kIntegerFields[static_cast<int>(api)]) {
        const json* v = find_field(body, f);
        if (v && v->is_number_unsigned() && v->get<uint64_t>() > static_cast<uint64_t>(INT64_MAX))
          return "accepted '" + f + "' past int64";
      }
      ++accepted_;
      return "";
    } catch (const ApiError& e) {
      if (e.status() != 400) return fmt::format("status {}: {}", e.status(), e.what());
      if (const std::string bad = check_message(e.what()); !bad.empty()) return "ApiError with " + bad;
      return "";
    } catch (const std::exception& e) {
      return fmt::format("{}: {}", typeid(e).name(), excerpt(e.what()));
    }
  }

  Reply post(Api api, const std::string& text) {
    static const char* kPaths[] = {"/v1/chat/completions", "/v1/completions", "/v1/responses", "/tokenize",
                                   "/detokenize"};
    return server_->handle(HttpRequest{"POST", kPaths[static_cast<int>(api)], "", text});
  }

  // Runs one input through the server's handler, as the HTTP front end does; "" or what went
  // wrong. A refusal is a 400 (404 for an unknown model) whose message is one line and not an
  // exception's text from nlohmann (which names no field).
  std::string handle(Api api, const std::string& text) {
    const Reply reply = post(api, text);
    if (reply.status == 200) return "";
    const json body = json::parse(reply.body, nullptr, false);
    const json* error = body.is_object() ? find_field(body, "error") : nullptr;
    const json* message = error && error->is_object() ? find_field(*error, "message") : nullptr;
    if (!message || !message->is_string()) return fmt::format("status {} without an error message", reply.status);
    const std::string& m = message->get_ref<const std::string&>();
    if (reply.status != 400 && reply.status != 404) return fmt::format("status {}: {}", reply.status, excerpt(m));
    if (const std::string bad = check_message(m); !bad.empty()) return "an error body with " + bad;
    if (m.starts_with("[json.exception")) return "nlohmann's message: " + excerpt(m);
    return "";
  }

  std::shared_ptr<const Tokenizer> tokenizer_;
  std::unique_ptr<Engine> engine_;
  std::unique_ptr<Server> server_;
  int accepted_ = 0;  // inputs the parsers accepted
};

TEST_F(RequestFuzz, EveryMutatedBodyIsAcceptedOrRefusedWithAOneLineError) {
  const uint64_t seed = env_number("ROTOR_TEST_SEED", 20250611);
  const uint64_t inputs = env_number("ROTOR_FUZZ_INPUTS", 8000);
  const bool trace = std::getenv("ROTOR_FUZZ_TRACE") != nullptr;
  const char* save_dir = std::getenv("ROTOR_FUZZ_SAVE");
  std::printf("request fuzz: seed %llu, %llu inputs (ROTOR_TEST_SEED=%llu ROTOR_FUZZ_INPUTS=%llu repeats this run)\n",
              static_cast<unsigned long long>(seed), static_cast<unsigned long long>(inputs),
              static_cast<unsigned long long>(seed), static_cast<unsigned long long>(inputs));
  const std::vector<Seed> corpus = seeds();
  for (const Seed& s : corpus) ASSERT_EQ(post(s.api, s.body.dump()).status, 200) << s.body.dump();
  std::vector<json> bodies;
  for (const Seed& s : corpus) bodies.push_back(s.body);
  test::JsonMutator mutator(seed, bodies, kFieldNames);
  std::vector<std::string> failures;
  int handled = 0;
  double mutate_s = 0, parse_s = 0, handle_s = 0;
  auto since = [](std::chrono::steady_clock::time_point t) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
  };
  for (uint64_t i = 0; i < inputs; ++i) {
    const Seed& s = corpus[i % corpus.size()];
    auto start = std::chrono::steady_clock::now();
    const std::string text = mutator.mutate(s.body);
    mutate_s += since(start);
    if (trace) std::fprintf(stderr, "input %llu: %s\n", static_cast<unsigned long long>(i), excerpt(text).c_str());
    start = std::chrono::steady_clock::now();
    std::string bad;
    const int accepted_before = accepted_;
    if (s.api == Api::Chat || s.api == Api::Completion || s.api == Api::Responses) bad = parse(s.api, text);
    const double parsed = since(start);
    parse_s += parsed;
    // Through the handlers: what the parsers accepted, the tokenize routes' inputs, one in
    // eight of the rest.
    const bool accepted = accepted_ > accepted_before;
    if (bad.empty() && (accepted || s.api == Api::Tokenize || s.api == Api::Detokenize || i % 8 == 0)) {
      bad = handle(s.api, text);
      ++handled;
    }
    const double seconds = since(start);
    handle_s += seconds - parsed;
    if (bad.empty() && seconds > 60.0) bad = fmt::format("took {:.1f} s", seconds);
    if (bad.empty()) continue;
    if (failures.size() < 40) failures.push_back(fmt::format("input {}: {}\n    body: {}", i, bad, excerpt(text)));
    if (save_dir) std::ofstream(fmt::format("{}/input-{}.json", save_dir, i), std::ios::binary) << text;
  }
  std::printf("%d inputs accepted by the parsers, %d through the handlers; %.1f s making inputs, %.1f s parsing, "
              "%.1f s in the handlers\n",
              accepted_, handled, mutate_s, parse_s, handle_s);
  for (const std::string& f : failures) ADD_FAILURE() << f;
}

}  // namespace
}  // namespace rotor::server
