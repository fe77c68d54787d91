// tests/tokenizer/test_template_limits.cpp — the Jinja interpreter's limits and its answers
// at the edges the template fuzz (test_template_fuzz.cpp) found: invalid UTF-8 in inputs,
// nesting, integers at the ends of int64 (an error past them, never a float), Python's %
// formatting of integers, sizes, loop and recursion budgets, indexing an ASCII string at O(1),
// literals, and one-line error messages.
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include "core/error.h"
#include "tokenizer/chat_template.h"
#include "tokenizer/jinja/interpreter.h"
#include "tokenizer/jinja/parser.h"

namespace rotor {
namespace {

std::string render(const std::string& tpl, const nlohmann::ordered_json& vars = nlohmann::ordered_json::object()) {
  const jinja::Body body = jinja::parse(tpl);
  jinja::Dict d;
  for (const auto& [k, v] : vars.items()) d.set(k, jinja::Value::from_json(v));
  return jinja::Interpreter(body, d).render();
}

// The message of the Error that rendering raises ("" if none).
std::string error_of(const std::string& tpl, const nlohmann::ordered_json& vars = nlohmann::ordered_json::object()) {
  try {
    render(tpl, vars);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

std::string repeat(const std::string& s, int n) {
  std::string r;
  for (int i = 0; i < n; ++i) r += s;
  return r;
}

TEST(TemplateLimits, InvalidUtf8InInputsIsRepaired) {
  // Printing a list of such a string looped forever in repr; tojson read past its end.
  const nlohmann::ordered_json vars = {{"m", {{"content", std::string("a\xff" "b\xe2\x82")}}}};
  EXPECT_EQ(render("{{ [m.content] }}", vars), "['a\xef\xbf\xbd" "b\xef\xbf\xbd']");
  EXPECT_EQ(render("{{ m | tojson }}", vars), "{\"content\": \"a\xef\xbf\xbd" "b\xef\xbf\xbd\"}");
  EXPECT_EQ(render("{{ m.content[1] }}|{{ m.content | length }}", vars), "\xef\xbf\xbd|4");
}

TEST(TemplateLimits, NestingIsBounded) {
  nlohmann::ordered_json deep = nlohmann::ordered_json::object();  // moved, never copied: nlohmann copies recursively
  deep["v"] = nlohmann::ordered_json::parse(repeat("[", 100000) + repeat("]", 100000));
  EXPECT_NE(error_of("{{ v }}", deep).find("nested more than 256 levels"), std::string::npos);
  nlohmann::ordered_json ok = "x";
  for (int i = 0; i < 100; ++i) ok = {{"k", ok}};
  EXPECT_EQ(render("{{ v | tojson | length }}", {{"v", ok}}), std::to_string(100 * 7 + 3));
  const std::string grow = "{% set ns = namespace(v=1) %}{% for i in range(100000) %}{% set ns.v = [ns.v] %}{% endfor %}";
  EXPECT_NE(error_of(grow).find("nested more than 256 levels"), std::string::npos);
}

TEST(TemplateLimits, DeepChatInputsAreRefusedBeforeTheyAreCopied) {
  // ChatTemplate::render copied each message (nlohmann recurses) before the interpreter's
  // nesting limit saw it: the stack overflowed.
  for (const char* field : {"messages", "tools"}) {
    ChatTemplateInputs in;
    in.messages = nlohmann::ordered_json::array({{{"role", "user"}, {"content", "hi"}}});
    nlohmann::ordered_json& target = std::string(field) == "messages" ? in.messages[0]["content"] : in.tools;
    target = nlohmann::ordered_json::parse(repeat("[", 200000) + repeat("]", 200000));
    try {
      ChatTemplate::embedded_qwen3()->render(in);
      ADD_FAILURE() << field << ": rendered";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(std::string(field) + " nested more than 256 levels deep"), std::string::npos)
          << e.what();
    }
  }
}

TEST(TemplateLimits, DeepRequestIsRefusedBeforeItIsCopied) {  // render_request copies its messages
  nlohmann::ordered_json request = nlohmann::ordered_json::object();
  request["messages"] = nlohmann::ordered_json::parse(repeat("[", 200000) + repeat("]", 200000));
  try {
    ChatTemplate::embedded_qwen3()->render_request(request);
    ADD_FAILURE() << "rendered";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("request nested more than 256 levels deep"), std::string::npos) << e.what();
  }
}

TEST(TemplateLimits, NoNamespaceHoldsANamespace) {
  // A namespace holding itself made printing it recurse until the stack overflowed.
  EXPECT_NE(error_of("{% set ns = namespace(x=1) %}{% set ns.x = ns %}{{ ns }}").find("a namespace cannot hold a namespace"),
            std::string::npos);
  EXPECT_NE(error_of("{% set a = namespace() %}{% set b = namespace(x=[a]) %}").find("cannot hold a namespace"),
            std::string::npos);
  EXPECT_EQ(render("{% set ns = namespace(x=1) %}{% set ns.x = [ns.x, 2] %}{{ ns.x }}"), "[1, 2]");
}

TEST(TemplateLimits, IntegersAtTheEndsOfInt64) {
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(render("{{ 1 ** 1000000000000000000 }} {{ (-1) ** 1000000000000000001 }} {{ 3 ** 4 }}"), "1 -1 81");
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), 1.0);
  EXPECT_EQ(render("{{ 2 ** 62 }} {{ (-2) ** 63 }} {{ 2 ** -1 }}"), "4611686018427387904 -9223372036854775808 0.5");
  // Past int64 Python's integers grow; rotor's raise rather than become floats that are wrong.
  const std::string min = "(-9223372036854775807 - 1)";
  for (const auto& [tpl, expression] : std::vector<std::pair<std::string, std::string>>{
           {"{{ 2 ** 64 }}", "2 ** 64"},
           {"{{ 2 ** 63 }}", "2 ** 63"},
           {"{{ 9223372036854775807 + 1 }}", "9223372036854775807 + 1"},
           {"{{ " + min + " - 1 }}", "-9223372036854775808 - 1"},
           {"{{ 4294967296 * 4294967296 }}", "4294967296 * 4294967296"},
           {"{{ " + min + " // -1 }}", "-9223372036854775808 // -1"},
           {"{{ -" + min + " }}", "-(-9223372036854775808)"},
           {"{{ " + min + " | abs }}", "abs(-9223372036854775808)"},
           {"{{ [9223372036854775807, 1] | sum }}", "9223372036854775807 + 1"}}) {
    EXPECT_NE(error_of(tpl).find("integer overflow: " + expression + " is past 64 bits"), std::string::npos)
        << tpl << ": " << error_of(tpl);
  }
  EXPECT_EQ(render("{{ 9223372036854775807 + 1.0 }} {{ " + min + " % -1 }} {{ 9223372036854775807 % -2 }} {{ " + min +
                   " % 3 }} {{ 7 % -3 }}"),
            "9.223372036854776e+18 0 -1 1 -2");  // Python's answers
  EXPECT_EQ(render("{{ 'abc'[1::9223372036854775807] }}{{ 'abc'[::-9223372036854775807] }}"), "bc");
  EXPECT_EQ(render("{{ range(9223372036854775800, 9223372036854775807, 5) | list }}"),
            "[9223372036854775800, 9223372036854775805]");
  EXPECT_EQ(render("{{ range(0, 10, 4611686018427387904) | list }}"), "[0]");
  EXPECT_NE(error_of("{{ 1e300 | int }}").find("past 64 bits"), std::string::npos);
  EXPECT_NE(error_of("{{ '1e300' | int }}").find("past 64 bits"), std::string::npos);
  EXPECT_EQ(render("{{ '2.5e3' | int }} {{ 'x' | int }}"), "2500 0");
  EXPECT_NE(error_of("{{ (1e308 * 10) | int }}").find("cannot convert float infinity to integer"), std::string::npos);
  EXPECT_NE(error_of("{{ '%d' % 1e300 }}").find("past 64 bits"), std::string::npos);
  EXPECT_EQ(render("{{ '%d|%x' % (9223372036854775807, 255) }}"), "9223372036854775807|ff");
}

// Python's (and so Jinja2's) %d %i %o %x %X: a sign and the magnitude's digits, never C's two's
// complement; Python's '#' prefixes and its padding. Expected: jinja2 3.1.6 under Python 3.
TEST(TemplateLimits, PercentFormatOfIntegersIsPythons) {
  EXPECT_EQ(render("{{ '%x' % -255 }}"), "-ff");
  EXPECT_EQ(render("{{ '%X|%o|%#x|%#o|%#X' % (-255, -8, -255, -8, 255) }}"), "-FF|-10|-0xff|-0o10|0XFF");
  EXPECT_EQ(render("{{ '[%5x][%-5x][%05x][%#07x][%+x][% x]' % (-255, -255, -255, -255, 255, 255) }}"),
            "[  -ff][-ff  ][-00ff][-0x00ff][+ff][ ff]");
  EXPECT_EQ(render("{{ '[%.4x][%08.4x][%+05o][%#.3o][%#x]' % (-255, 255, 255, 255, 0) }}"),
            "[-00ff][000000ff][+0377][0o377][0x0]");
  EXPECT_EQ(render("{{ '[%d][%+d][% d][%05d][%08.4d][%-6i]' % (-255, 255, 255, -255, 255, 7) }}"),
            "[-255][+255][ 255][-0255][00000255][7     ]");
  EXPECT_EQ(render("{{ '%x|%o|%d' % (-9223372036854775807 - 1, -9223372036854775807 - 1, -9223372036854775807 - 1) }}"),
            "-8000000000000000|-1000000000000000000000|-9223372036854775808");
  EXPECT_EQ(render("{{ '%x|%d' % (true, 3.9) }}"), "1|3");
}

TEST(TemplateLimits, SizesAreBounded) {
  for (const char* tpl : {"{{ 'ab' * 100000000000 }}", "{{ [1, 2] * 100000000000 }}", "{{ 'a' | center(100000000000) }}",
                          "{{ 'a'.ljust(9223372036854775807) }}", "{{ 'a'.zfill(100000000000) }}",
                          "{{ 'a\nb' | indent(100000000000) }}", "{{ [1, [2]] | tojson(indent=100000000) }}",
                          "{{ '%999999999d' % 1 }}",
                          "{% set ns = namespace(v='ab') %}{% for i in range(40) %}{% set ns.v = ns.v + ns.v %}{% endfor %}",
                          "{% set ns = namespace(v=[1]) %}{% for i in range(40) %}{% set ns.v = ns.v + ns.v %}{% endfor %}",
                          "{% for i in range(100) %}{{ 'x' * 1000000 }}{% endfor %}"}) {
    const std::string e = error_of(tpl);
    EXPECT_TRUE(e.find("a string of more than 64 MiB") != std::string::npos ||
                e.find("a list of more than 1048576 items") != std::string::npos)
        << tpl << ": " << e;
  }
  EXPECT_EQ(render("{{ ('%.200f' % 1.5) | length }}"), "202");  // was cut at 127 bytes
  EXPECT_EQ(render("{{ 'ab' * 3 }}{{ 'a' | center(5) }}|{{ 'x' * -1 }}"), "ababab  a  |");
}

// Seconds to render tpl with `s` bound to text.
double render_seconds(const std::string& tpl, const std::string& text) {
  const auto start = std::chrono::steady_clock::now();
  render(tpl, {{"s", text}});
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

TEST(TemplateLimits, IndexingAnAsciiStringDoesNotWalkIt) {
  // Items and slices of an ASCII string are its bytes: 3000 of them cost about the same in a
  // 1 KB string and a 1 MB one (walking the code points at each made the second ~1000x slower,
  // 27 s for every item of a 100 KB string).
  const std::string tpl = "{% for i in range(1000) %}{{ s[i] }}{{ s[i:i + 2] }}{{ s[-i - 1] }}{{ s | length }}{% endfor %}";
  const double small = render_seconds(tpl, std::string(1000, 'a')), large = render_seconds(tpl, std::string(1 << 20, 'a'));
  EXPECT_LT(large, 4 * small + 0.1) << "1 KB: " << small << " s, 1 MB: " << large << " s";
  // Other strings still index and slice by code point.
  EXPECT_EQ(render("{{ s[1] }}|{{ s[2] }}|{{ s[-1] }}|{{ s[1:3] }}|{{ s[::-1] }}|{{ s | length }}", {{"s", "a\xc3\xa9\xf0\x9f\x99\x82" "b"}}),
            "\xc3\xa9|\xf0\x9f\x99\x82|b|\xc3\xa9\xf0\x9f\x99\x82|b\xf0\x9f\x99\x82\xc3\xa9" "a|4");
  EXPECT_EQ(render("{{ s[1] }}|{{ s[-2:] }}|{{ s[::2] }}", {{"s", "abcd"}}), "b|cd|ac");
}

TEST(TemplateLimits, LoopsAndRecursionAreBounded) {
  EXPECT_NE(error_of("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}")
                .find("more than 2000000 loop iterations and macro calls"),
            std::string::npos);
  // The items a filtered loop tests count too (each tested a 1000-item string).
  EXPECT_NE(error_of("{% for i in range(100000) %}{% for c in 'x' * 1000 if c %}{% break %}{% endfor %}{% endfor %}")
                .find("more than 2000000"),
            std::string::npos);
  // A macro calling itself twice: 2**100 calls within the depth limit.
  EXPECT_NE(error_of("{% macro m(n) %}{% if n < 90 %}{{ m(n + 1) }}{{ m(n + 1) }}{% endif %}{% endmacro %}{{ m(0) }}")
                .find("more than 2000000"),
            std::string::npos);
  EXPECT_EQ(render("{% for i in range(1000) %}{% for j in range(1000) %}{% endfor %}{% endfor %}ok"), "ok");
}

TEST(TemplateLimits, ParsingDepthIsBounded) {
  for (const std::string& tpl :
       {"{{ " + repeat("(", 200000) + "1" + repeat(")", 200000) + " }}", repeat("{% if true %}", 200000) + repeat("{% endif %}", 200000),
        "{{ " + repeat("not ", 200000) + "1 }}", "{{ " + repeat("-", 200000) + "1 }}", "{{ " + repeat("1 + ", 200000) + "1 }}",
        "{{ x" + repeat(".a", 200000) + " }}", "{{ x" + repeat("|string", 200000) + " }}", "{{ " + repeat("[", 200000) + repeat("]", 200000) + " }}"}) {
    const std::string e = error_of(tpl);
    EXPECT_NE(e.find("nested more than 500 levels deep"), std::string::npos) << tpl.substr(0, 40) << ": " << e;
  }
  EXPECT_EQ(render("{{ " + repeat("(", 100) + "1" + repeat(")", 100) + " }}" + repeat("{% if true %}", 100) + "x" +
                   repeat("{% endif %}", 100) + "{{ " + repeat("1 + ", 100) + "1 }}"),
            "1x101");
}

TEST(TemplateLimits, LiteralsAtTheirLimits) {
  EXPECT_EQ(render("{{ 1e400 }} {{ -1e400 }} {{ 1e-400 }}"), "inf -inf 0.0");
  EXPECT_NE(error_of("{{ x.99999999999999999999 }}").find("integer literal out of range"), std::string::npos);
  EXPECT_NE(error_of("{{ '{99999999999999999999}'.format(1) }}").find("format: index out of range"), std::string::npos);
  EXPECT_NE(error_of("{{ [[1], [2]] | sort(attribute='99999999999999999999') }}").find("not supported between"),
            std::string::npos);
}

TEST(TemplateLimits, ErrorsAreOneLine) {
  const std::string bad_token = error_of("{{ 1 'a\\nb' }}");  // the token quoted holds a newline
  EXPECT_NE(bad_token.find("expected '}}'"), std::string::npos) << bad_token;
  EXPECT_EQ(bad_token.find('\n'), std::string::npos) << bad_token;
  const std::string raised = error_of("{{ raise_exception('line one\nline two' * 1000) }}");
  EXPECT_NE(raised.find("line one\\nline two"), std::string::npos) << raised;
  EXPECT_EQ(raised.find('\n'), std::string::npos);
  EXPECT_LE(raised.size(), 400u);
  const std::string attr = error_of("{{ m.x.y }}", {{"m", {{"z", 1}}}});
  EXPECT_NE(attr.find("has no attribute 'x'"), std::string::npos) << attr;
}

TEST(TemplateLimits, Qwen3RendersAChatOfManyMessages) {
  ChatTemplateInputs in;
  for (int i = 0; i < 100000; ++i)
    in.messages.push_back({{"role", i % 2 ? "assistant" : "user"}, {"content", "m" + std::to_string(i)}});
  const std::string text = ChatTemplate::embedded_qwen3()->render(in);
  EXPECT_NE(text.find("<|im_start|>user\nm99998<|im_end|>"), std::string::npos);
  EXPECT_TRUE(text.ends_with("m99999<|im_end|>\n")) << text.substr(text.size() - 200);
}

}  // namespace
}  // namespace rotor
