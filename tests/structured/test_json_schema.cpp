// tests/structured/test_json_schema.cpp — JSON schema grammars on the real Qwen3 vocabulary:
// random walks parse as JSON and respect required / optional properties, enums and bounds;
// integer and decimal ranges accept exactly the numbers inside them; masks equal brute
// force on a tool schema and on values that are rules of their own; a long value written in
// two places is compiled once; optional properties' positions meet stacks linear in their
// number, and a step after one's value computes few classes; unsupported keywords are named in the error.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "structured/automaton.h"
#include "structured/json_schema.h"
#include "structured/parser.h"
#include "structured_test_util.h"

namespace rotor::structured {
namespace {

using namespace testing;
using Json = nlohmann::ordered_json;

std::shared_ptr<const CompiledGrammar> compile_schema(const std::string& schema) {
  return CompiledGrammar::compile(json_schema_grammar(schema), qwen3_tokens());
}

bool accepts(const std::shared_ptr<const CompiledGrammar>& g, std::string_view text) {
  GrammarMatcher m(g);
  return m.accept_bytes(text) && m.can_end();
}

std::string error_of(const std::string& schema) {
  try {
    json_schema_grammar(schema);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

const char* kWeatherTool = R"({
  "type": "object",
  "properties": {
    "city": {"type": "string", "maxLength": 12},
    "unit": {"enum": ["celsius", "fahrenheit"]},
    "days": {"type": "integer", "minimum": 1, "maximum": 14},
    "hourly": {"type": "boolean"},
    "tags": {"type": "array", "items": {"type": "string", "maxLength": 4}, "maxItems": 3}
  },
  "required": ["city", "days"],
  "additionalProperties": false
})";

TEST(JsonSchema, ToolSchemaWalksAreValid) {
  const auto g = compile_schema(kWeatherTool);
  std::mt19937 rng(11);
  const std::vector<std::string> texts = ended_walks(g, rng, 30, 200);
  for (const std::string& text : texts) {
    const Json v = Json::parse(text);
    ASSERT_TRUE(v.is_object()) << text;
    EXPECT_TRUE(v.contains("city") && v["city"].is_string() && v["city"].get<std::string>().size() <= 48) << text;
    ASSERT_TRUE(v.contains("days") && v["days"].is_number_integer()) << text;
    EXPECT_GE(v["days"].get<int>(), 1);
    EXPECT_LE(v["days"].get<int>(), 14);
    if (v.contains("unit")) {
      EXPECT_TRUE(v["unit"] == "celsius" || v["unit"] == "fahrenheit") << text;
    }
    if (v.contains("tags")) {
      EXPECT_LE(v["tags"].size(), 3u) << text;
    }
    for (auto it = v.begin(); it != v.end(); ++it)
      EXPECT_TRUE(it.key() == "city" || it.key() == "unit" || it.key() == "days" || it.key() == "hourly" ||
                  it.key() == "tags")
          << text;
  }
  EXPECT_GE(texts.size(), 20u);
  EXPECT_TRUE(accepts(g, R"({"city": "Paris", "days": 3})"));
  EXPECT_TRUE(accepts(g, "{\n  \"city\": \"Oslo\",\n  \"unit\": \"celsius\",\n  \"days\": 14,\n  \"tags\": []\n}"));
  EXPECT_FALSE(accepts(g, R"({"days": 3, "city": "Paris"})"));  // schema order
  EXPECT_FALSE(accepts(g, R"({"city": "Paris"})"));               // days is required
  EXPECT_FALSE(accepts(g, R"({"city": "Paris", "days": 15})"));
  EXPECT_FALSE(accepts(g, R"({"city": "Paris", "days": 3, "x": 1})"));
}

TEST(JsonSchema, ToolSchemaMaskEqualsBruteForce) { check_masks(compile_schema(kWeatherTool), 12, 10); }

TEST(JsonSchema, IntegerRangesAreExact) {
  const std::pair<std::optional<int>, std::optional<int>> ranges[] = {
      {0, 100}, {-15, 7}, {-1000, -3}, {7, std::nullopt}, {std::nullopt, -12}, {95, 1005}, {0, 0}};
  for (const auto& [lo, hi] : ranges) {
    Json s = {{"type", "integer"}};
    if (lo) s["minimum"] = *lo;
    if (hi) s["maximum"] = *hi;
    const auto g = compile_schema(s.dump());
    for (int v = -1200; v <= 1200; ++v) {
      const bool in = (!lo || v >= *lo) && (!hi || v <= *hi);
      ASSERT_EQ(accepts(g, std::to_string(v)), in) << s.dump() << " value " << v;
    }
    EXPECT_FALSE(accepts(g, "01"));
    EXPECT_FALSE(accepts(g, "-0"));
  }
  const auto ex = compile_schema(R"({"type": "integer", "exclusiveMinimum": 2, "exclusiveMaximum": 10.5})");
  for (int v = -5; v <= 20; ++v) EXPECT_EQ(accepts(ex, std::to_string(v)), v > 2 && v < 10.5) << v;
}

TEST(JsonSchema, NumberRangesAreSound) {
  const char* schemas[] = {R"({"type": "number", "minimum": 0, "maximum": 1})",
                           R"({"type": "number", "minimum": -2.5, "exclusiveMaximum": 3.25})",
                           R"({"type": "number", "exclusiveMinimum": 0.1, "maximum": 0.9})",
                           R"({"type": "number", "minimum": 10})"};
  for (const char* schema : schemas) {
    const Json s = Json::parse(schema);
    const auto g = compile_schema(schema);
    int accepted = 0;
    for (int i = -400; i <= 2000; ++i)
      for (const char* fmt : {"%.2f", "%.1f", "%.0f"}) {
        char buf[32];
        std::snprintf(buf, sizeof buf, fmt, i / 100.0);
        const double v = std::stod(buf);
        const bool in = (!s.contains("minimum") || v >= s["minimum"].get<double>()) &&
                        (!s.contains("exclusiveMinimum") || v > s["exclusiveMinimum"].get<double>()) &&
                        (!s.contains("maximum") || v <= s["maximum"].get<double>()) &&
                        (!s.contains("exclusiveMaximum") || v < s["exclusiveMaximum"].get<double>());
        if (accepts(g, buf)) {
          ++accepted;
          EXPECT_TRUE(in) << schema << " accepted " << buf;
        }
      }
    EXPECT_GT(accepted, 50) << schema;
  }
}

TEST(JsonSchema, RefsAnyOfNullableAndAdditional) {
  const auto g = compile_schema(R"({
    "$defs": {"node": {"type": "object", "properties": {"v": {"type": "integer"},
                                                         "next": {"anyOf": [{"$ref": "#/$defs/node"}, {"type": "null"}]}},
                       "required": ["v", "next"]}},
    "type": "object",
    "properties": {"list": {"$ref": "#/$defs/node"}, "name": {"type": "string", "nullable": true}},
    "required": ["list"],
    "additionalProperties": {"type": "integer"}
  })");
  EXPECT_TRUE(accepts(g, R"({"list": {"v": 1, "next": {"v": 2, "next": null}}})"));
  EXPECT_TRUE(accepts(g, R"({"list": {"v": 1, "next": null}, "name": null, "extra": 5})"));
  EXPECT_TRUE(accepts(g, R"({"list": {"v": 1, "next": null}, "listing": 5, "nam": 2})"));
  EXPECT_FALSE(accepts(g, R"({"list": {"v": 1, "next": null}, "list": 5})"));
  EXPECT_FALSE(accepts(g, R"({"list": {"v": 1, "next": null}, "extra": "x"})"));
  EXPECT_FALSE(accepts(g, R"({"list": {"v": 1}})"));
}

TEST(JsonSchema, ArraysAndFormats) {
  const auto arr = compile_schema(R"({"type": "array", "prefixItems": [{"const": "a"}, {"type": "boolean"}],
                                      "items": {"type": "integer"}, "minItems": 3, "maxItems": 4})");
  EXPECT_TRUE(accepts(arr, R"(["a", true, 1])"));
  EXPECT_TRUE(accepts(arr, R"(["a", false, 1, 2])"));
  EXPECT_FALSE(accepts(arr, R"(["a", true])"));
  EXPECT_FALSE(accepts(arr, R"(["a", true, 1, 2, 3])"));
  const auto date = compile_schema(R"({"type": "string", "format": "date"})");
  EXPECT_TRUE(accepts(date, "\"2024-02-28\""));
  EXPECT_FALSE(accepts(date, "\"2024-02-30\""));
  const auto pat = compile_schema(R"({"type": "string", "pattern": "^[A-Z]{2}\"\\d$"})");
  EXPECT_TRUE(accepts(pat, R"("AB\"7")"));
  EXPECT_FALSE(accepts(pat, R"("AB"7")"));
  const auto search = compile_schema(R"({"type": "string", "pattern": "xy"})");
  EXPECT_TRUE(accepts(search, R"("..xy..")"));
  EXPECT_FALSE(accepts(search, R"("..x.y")"));
}

TEST(JsonSchema, UnsupportedNamed) {
  EXPECT_NE(error_of(R"({"type": "object", "properties": {"a": {"not": {"type": "string"}}}})").find("'not' is not supported"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"type": "array", "uniqueItems": true})").find("uniqueItems"), std::string::npos);
  EXPECT_NE(error_of(R"({"type": "number", "multipleOf": 3})").find("multipleOf"), std::string::npos);
  EXPECT_NE(error_of(R"({"$ref": "http://example.com/s.json"})").find("only references inside the schema"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"oneOf": [{"type": "integer"}, {"minimum": 2}]})").find("oneOf"), std::string::npos);
  EXPECT_NE(error_of("{not json").find("not valid JSON"), std::string::npos);
  EXPECT_NE(error_of("false").find("allows no value"), std::string::npos);
}

// Keywords of the wrong type threw nlohmann's type_error ("type must be string, but is
// number"), which named nothing; a deep document overflowed the stack while it was read.
TEST(JsonSchema, MalformedKeywordsAreNamed) {
  const std::pair<const char*, const char*> cases[] = {
      {R"({"type": "object", "required": [5]})", "#/required: not a string or a list of strings"},
      {R"({"type": ["string", 1]})", "#/type: not a string or a list of strings"},
      {R"({"enum": [1], "type": {}})", "#/type: not a string or a list of strings"},
      {R"({"type": "string", "pattern": 5})", "#/pattern: not a string"},
      {R"({"type": "string", "format": {}})", "#/format: not a string"},
      {R"({"allOf": [{"$ref": 5}]})", "#/allOf/$ref: not a string"},
      {R"({"type": "array", "prefixItems": 5})", "#/prefixItems: not an array"},
      {R"({"oneOf": [{"type": [null]}, {"type": "string"}]})", "#/oneOf/0/type: not a string or a list"},
      {R"({"allOf": [{"required": ["a"]}, {"required": [1]}]})", "#/allOf/1/required: not a string or a list"},
      {R"({"allOf": [{"type": "object"}, {"type": 5}]})", "#/allOf/1/type: not a string or a list"},
      {R"({"allOf": [{"properties": {"a": {}}}, {"properties": 5}]})", "#/allOf/1/properties: not an object"},
      {R"({"allOf": [{"minimum": "a"}, {"minimum": 1}]})", "cannot combine two different 'minimum'"},
  };
  for (const auto& [schema, message] : cases)
    EXPECT_NE(error_of(schema).find(message), std::string::npos) << schema << ": " << error_of(schema);
  // A subnormal bound: std::stod threw std::out_of_range ("stod"), which the server answered 500.
  for (const char* schema : {R"({"type": "number", "minimum": 1e-320})", R"({"type": "integer", "maximum": 5e-324})",
                             R"({"type": "number", "minimum": 1e-320, "exclusiveMinimum": 2e-320})"})
    EXPECT_NE(error_of(schema).find("more precision than supported"), std::string::npos) << schema;
  const std::string deep = "{\"a\": " + std::string(300000, '[') + std::string(300000, ']') + ", \"type\": \"string\"}";
  EXPECT_NE(error_of(deep).find("nested deeper than 256 levels"), std::string::npos);
  EXPECT_EQ(error_of(R"({"type": "object", "required": "a", "properties": {"a": {"type": "string"}}})"), "");
}

// An object's grammar was quadratic in its properties: each adds a rule named after the object
// (naming the n-th searched the names taken before it, each through every rule), and the
// alternatives for the first member were copied once per optional property.
TEST(JsonSchema, ManyPropertiesMakeAGrammarQuickly) {
  Json props = Json::object();
  for (int i = 0; i < 5000; ++i) props[fmt::format("p{}", i)] = {{"type", "integer"}};
  const auto start = std::chrono::steady_clock::now();
  const Grammar g = json_schema_grammar(Json({{"type", "object"}, {"properties", props}}).dump());
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), 10.0);
  EXPECT_EQ(g.rules.size(), 5003u);
  const auto few = compile_schema(R"({"type": "object", "properties": {"a": {"type": "integer"},
      "b": {"type": "integer"}, "c": {"type": "integer"}}, "required": ["b"]})");
  for (const char* ok : {R"({"b": 1})", R"({"a": 1, "b": 2})", R"({"b": 1, "c": 2})", R"({"a": 1, "b": 2, "c": 3})"})
    EXPECT_TRUE(accepts(few, ok)) << ok;
  for (const char* bad : {"{}", R"({"a": 1})", R"({"c": 1})", R"({"b": 1, "a": 2})"}) EXPECT_FALSE(accepts(few, bad)) << bad;
}

// A property that may be written first or after a comma had its value in the grammar twice
// (and the first property's once more in a rule nothing called): a 100 KB const there took
// over 200,000 automaton states, "grammar too large", where the same const alone takes
// 100,000 (an additional properties' schema, thrice). Such a value is a rule of its own now,
// compiled once.
TEST(JsonSchema, AValueWrittenFirstOrLaterIsCompiledOnce) {
  const std::string text = repeated_text(100000), value = Json({{"const", text}}).dump();
  const size_t alone = Automaton::build(json_schema_grammar(value)).states.size();
  const std::string schemas[] = {
      fmt::format(R"({{"type": "object", "properties": {{"a": {}}}}})", value),
      fmt::format(R"({{"type": "object", "properties": {{"a": {}}}, "required": ["a"]}})", value),
      fmt::format(R"({{"type": "object", "properties": {{"x": {{"type": "integer"}}, "a": {}}}, "required": ["a"]}})",
                  value),
      fmt::format(R"({{"type": "object", "properties": {{"x": {{"type": "integer"}}}}, "additionalProperties": {}}})",
                  value),
  };
  const std::string member = Json({{"a", text}}).dump();
  for (const std::string& schema : schemas) {
    const std::string what = schema.substr(0, 60) + "...";
    const auto g = compile_schema(schema);
    EXPECT_LT(g->automaton().states.size(), alone + 1000) << what;
    EXPECT_TRUE(accepts(g, member)) << what;
    EXPECT_FALSE(accepts(g, R"({"a": "alpha"})")) << what;
  }
  const auto after = compile_schema(schemas[2]);
  EXPECT_TRUE(accepts(after, "{\"x\": 7, " + member.substr(1)));
  EXPECT_FALSE(accepts(after, "{\"x\": 7}"));
}

// The stacks a mask computation meets: where a shared value (one rule, one call site per
// property) may end, every call site's continuation. The first member's alternatives were
// inline in the object's rule, each calling its rest over a return frame of its own, so the
// later members' rests were met once per alternative: n^2 / 2 stacks for n optional
// properties (a class's masks took seconds at n = 1,000). Now no position meets more than a
// few stacks per property.
TEST(JsonSchema, OptionalPropertiesCloseInLinearStacks) {
  constexpr int kProps = 200;
  Json props = Json::object();
  for (int i = 0; i < kProps; ++i) props[fmt::format("p{}", i)] = {{"type", "integer"}};
  const Automaton a = Automaton::build(json_schema_grammar(Json({{"type", "object"}, {"properties", props}}).dump()));
  const CallerTops callers = caller_tops(a);
  StackPool pool;
  Parser parser(a, pool, &callers);
  size_t most = 0;
  for (size_t s = 0; s < a.states.size(); ++s)
    most = std::max(most, parser.closure({static_cast<int32_t>(s), kContextParent}).tops.size());
  EXPECT_GT(most, static_cast<size_t>(kProps));
  EXPECT_LT(most, static_cast<size_t>(4 * kProps));
}

// After a value, every later optional property's rest is a stack top (reached through the
// chain of tail calls), each its own class: the mask of that step computed hundreds of
// classes on first use, on the engine's thread. The tops reached through tail calls from
// another top are skipped now, and the mask is still exactly brute force's.
TEST(JsonSchema, AfterAValueFewClassesAreComputed) {
  constexpr int kProps = 300;
  Json props = Json::object();
  for (int i = 0; i < kProps; ++i) props[fmt::format("p{}", i)] = {{"type", "integer"}};
  const auto g = CompiledGrammar::compile(json_schema_grammar(Json({{"type", "object"}, {"properties", props}}).dump()),
                                          qwen3_tokens());
  GrammarMatcher m(g);
  for (const char* text : {R"({"p0": 1)", R"(, "p7": 25)", R"(, "p298": 3)"}) {
    ASSERT_TRUE(m.accept_bytes(text)) << text;
    const size_t before = g->stats().classes_computed;
    const std::vector<uint32_t> fast = mask_of(m);
    EXPECT_LE(g->stats().classes_computed - before, 8u) << text;
    EXPECT_EQ(fast, brute_force_mask(m)) << text;
  }
}

// Values that are rules of their own end inside tokens such as `",` whose rest their caller
// decides: the masks still equal brute force along walks, and the walks are valid.
TEST(JsonSchema, SharedValuesMaskEqualsBruteForce) {
  const auto g = compile_schema(R"({"type": "object", "properties": {
      "unit": {"enum": ["celsius", "fahrenheit"]}, "city": {"type": "string", "maxLength": 6},
      "days": {"type": "integer", "minimum": 1, "maximum": 14}, "hourly": {"type": "boolean"},
      "tags": {"type": "array", "items": {"type": "integer"}, "maxItems": 2}},
    "required": ["days"], "additionalProperties": false})");
  for (int seed = 13; seed < 17; ++seed) check_masks(g, seed, 10);
  std::mt19937 rng(13);
  const std::vector<std::string> texts = ended_walks(g, rng, 30, 200);
  for (const std::string& text : texts) {
    const Json v = Json::parse(text);
    ASSERT_TRUE(v.contains("days") && v["days"].is_number_integer()) << text;
    if (v.contains("unit")) {
      EXPECT_TRUE(v["unit"] == "celsius" || v["unit"] == "fahrenheit") << text;
    }
    if (v.contains("hourly")) {
      EXPECT_TRUE(v["hourly"].is_boolean()) << text;
    }
    if (v.contains("tags")) {
      EXPECT_LE(v["tags"].size(), 2u) << text;
    }
  }
  EXPECT_GE(texts.size(), 20u);
}

TEST(JsonSchema, ToolCalls) {
  const Grammar gr = tool_calls_grammar({{"get_weather", kWeatherTool}, {"noop", ""}}, true);
  const auto g = CompiledGrammar::compile(gr, qwen3_tokens());
  EXPECT_TRUE(accepts(g, "<tool_call>\n{\"name\": \"noop\", \"arguments\": {}}\n</tool_call>"));
  EXPECT_TRUE(accepts(g, "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"x\", \"days\": 2}}\n</tool_call>\n"
                         "<tool_call>\n{\"name\": \"noop\", \"arguments\": {\"a\": [1]}}\n</tool_call>"));
  EXPECT_FALSE(accepts(g, "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {}}\n</tool_call>"));
  // The single-token <tool_call> is allowed first.
  GrammarMatcher m(g);
  EXPECT_TRUE(test_bit(mask_of(m), *Tokenizer::embedded_qwen3()->token_to_id("<tool_call>")));
}

}  // namespace
}  // namespace rotor::structured
