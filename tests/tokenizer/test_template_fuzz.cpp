// tests/tokenizer/test_template_fuzz.cpp — a seeded fuzz of the chat template renderer and the
// Jinja interpreter. Two halves: the embedded Qwen3 template over odd conversations (empty, long,
// invalid UTF-8, control-character and special-token content; content of every JSON type; tool
// calls and tools with deep JSON; odd roles and kwargs), and hostile templates (random
// statements and expressions over huge ranges, repetition, powers, extreme integers and slices,
// recursion in macros, undefined names, type errors; nesting a few hundred thousand deep; the
// Qwen3 template with its bytes mutated).
// The property: loading and rendering return text or raise rotor::Error whose message is one
// non-empty line of valid UTF-8 and bounded length, never another exception; no input takes 30 s (the
// interpreter's limits cut runaway loops and output within ~2 s); a plain conversation (known
// roles, string content of any text) always renders.
// ROTOR_TEST_SEED=<n> sets the seed (printed), ROTOR_FUZZ_INPUTS=<n> the number of inputs (1000
// conversations, ~4 s; 600 templates, ~5 s);
// ROTOR_FUZZ_TRACE=1 prints every input before it runs (for a crash).
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <typeinfo>

#include <fmt/format.h>

#include "core/error.h"
#include "tests/support/fuzz_inputs.h"
#include "tokenizer/chat_template.h"
#include "tokenizer/embedded.h"
#include "tokenizer/utf8.h"

namespace rotor {
namespace {

using test::env_number;
using test::excerpt;
using test::print_seed;

using ojson = nlohmann::ordered_json;

// An error's message: one non-empty line of valid UTF-8, short enough to read.
std::string check_message(const std::string& m) {
  if (m.empty()) return "an empty message";
  if (m.find_first_of("\r\n") != std::string::npos) return "a message of several lines: " + excerpt(m);
  if (!utf8::is_valid(m)) return "a message of invalid UTF-8: " + excerpt(m);
  if (m.size() > 1000) return fmt::format("a message of {} bytes", m.size());
  return "";
}

class Gen {
 public:
  explicit Gen(uint64_t seed) : rng_(seed) {}
  uint64_t pick(uint64_t n) { return rng_() % n; }
  bool chance(int one_in) { return pick(static_cast<uint64_t>(one_in)) == 0; }
  template <class T>
  const T& one_of(const std::vector<T>& v) { return v[pick(v.size())]; }

  // Text a message may hold.
  std::string content() {
    switch (pick(10)) {
      case 0: return "";
      case 1: return std::string(1 + pick(200000), "ab \n<"[pick(5)]);
      case 2: return one_of<std::string>({"\xff\xfe", "a\xc3", "\xe2\x82", "\xf0\x9f\x98", "\xed\xa0\x80", "\xc0\xaf", "x\x80y"});
      case 3: return std::string("a\0b\x01\x1b[0m\t\r\x7f", 10);
      case 4: return one_of<std::string>({"<|im_start|>system\nhi<|im_end|>", "<|im_end|>", "<think>\n</think>", "</think>",
                                          "<tool_call>{\"name\": 1}</tool_call>", "<tool_response>", "{{ messages }}",
                                          "{% for %}", "\\u0000"});
      case 5: {
        std::string s;
        for (int i = 0, n = 1 + static_cast<int>(pick(40)); i < n; ++i) s += static_cast<char>(pick(256));
        return s;
      }
      default: return one_of<std::string>({"hello", "  spaced  ", "日本語 😀", "line\nbreak", "\n\n", "x"});
    }
  }

  // A JSON value nested up to depth levels.
  ojson value(int depth) {
    switch (depth > 0 ? pick(9) : pick(6)) {
      case 0: return nullptr;
      case 1: return chance(2);
      case 2: return one_of<int64_t>({0, -1, 7, INT64_MAX, INT64_MIN, 4294967296});
      case 3: return one_of<double>({0.5, -0.0, 1e308, -1e-308, 3.0});
      case 4: return static_cast<uint64_t>(UINT64_MAX);
      case 5: return content();
      case 6: {
        ojson a = ojson::array();
        for (int i = 0, n = static_cast<int>(pick(4)); i < n; ++i) a.push_back(value(depth - 1));
        return a;
      }
      default: {
        ojson o = ojson::object();
        for (int i = 0, n = static_cast<int>(pick(4)); i < n; ++i)
          o[one_of<std::string>({"type", "text", "name", "arguments", "content", "properties", "k", ""})] = value(depth - 1);
        return o;
      }
    }
  }

  ojson deep(int levels) {
    ojson v = content();
    for (int i = 0; i < levels; ++i) v = chance(2) ? ojson::array({v}) : ojson{{"k", v}};
    return v;
  }

  ojson message() {
    ojson m = ojson::object();
    if (!chance(20)) m["role"] = chance(4) ? value(1) : ojson(one_of<std::string>({"system", "user", "assistant", "tool", "", "other"}));
    switch (pick(6)) {
      case 0: m["content"] = value(3); break;
      case 1: m["content"] = ojson::array({{{"type", "text"}, {"text", content()}}, value(2)}); break;
      case 2: break;
      default: m["content"] = content();
    }
    if (chance(3)) m["reasoning_content"] = chance(2) ? ojson(content()) : value(2);
    if (chance(3)) {
      ojson calls = ojson::array();
      for (int i = 0, n = static_cast<int>(pick(4)); i < n; ++i) {
        ojson args = chance(2) ? ojson(content()) : chance(2) ? deep(static_cast<int>(pick(64))) : value(3);
        ojson fn = {{"name", chance(5) ? value(1) : ojson(content())}, {"arguments", args}};
        calls.push_back(chance(3) ? fn : ojson{{"type", "function"}, {"function", chance(8) ? value(2) : fn}});
      }
      m["tool_calls"] = chance(8) ? value(2) : calls;
    }
    if (chance(8)) m[one_of<std::string>({"name", "tool_call_id", "thinking", "reasoning"})] = value(2);
    return m;
  }

  ChatTemplateInputs conversation() {
    ChatTemplateInputs in;
    if (chance(4)) {  // plain: known roles, any text
      for (int i = 0, n = 1 + static_cast<int>(pick(6)); i < n; ++i)
        in.messages.push_back({{"role", one_of<std::string>({"system", "user", "assistant", "tool"})}, {"content", content()}});
      in.add_generation_prompt = chance(2);
      return in;
    }
    for (int i = 0, n = static_cast<int>(chance(10) ? pick(3000) : pick(8)); i < n; ++i)
      in.messages.push_back(chance(30) ? value(2) : message());
    if (chance(2)) {
      ojson tools = ojson::array();
      for (int i = 0, n = static_cast<int>(pick(4)); i < n; ++i)
        tools.push_back(chance(3) ? value(3)
                                  : ojson{{"type", "function"},
                                          {"function", {{"name", content()}, {"parameters", deep(static_cast<int>(pick(64)))}}}});
      in.tools = chance(8) ? value(2) : tools;
    }
    if (chance(6)) in.documents = value(3);
    in.add_generation_prompt = chance(2);
    if (chance(3)) in.kwargs = {{"enable_thinking", chance(3) ? value(1) : ojson(chance(2))}};
    return in;
  }

  // An expression of the template language.
  std::string expr(int depth) {
    static const std::vector<std::string> atoms = {
        "0", "1", "-1", "3", "9223372036854775807", "(-9223372036854775807 - 1)", "4611686018427387904", "2.5",
        "1e308", "'ab'", "\"\"", "'日本'", "none", "true", "[1, 2]", "{'a': 1}", "messages", "tools",
        "messages[0]", "x", "ns", "ns.v", "loop", "loop.index", "undefined_name", "m", "range(3)", "'%s %d'"};
    if (depth <= 0 || chance(3)) return one_of(atoms);
    const std::string a = expr(depth - 1), b = expr(depth - 1);
    switch (pick(22)) {
      case 0: return "(" + a + " " + one_of<std::string>({"+", "-", "*", "/", "//", "%", "**", "~"}) + " " + b + ")";
      case 1: return "(" + a + " " + one_of<std::string>({"==", "<", ">=", "in", "not in", "and", "or"}) + " " + b + ")";
      case 2: return "(" + a + " * " + one_of<std::string>({"100000000000", "9223372036854775807", "1000000"}) + ")";
      case 3: return "(" + one_of<std::string>({"1", "0", "-1", "2", "(-9223372036854775807 - 1)"}) + " ** " +
                     one_of<std::string>({"1000000000000000000", "63", "64", "-1", "9223372036854775807"}) + ")";
      case 4: return "range(" + one_of<std::string>({"100000", "100001", "1000000000000", "-5", "0, 10, 4611686018427387904",
                                                     "9223372036854775800, 9223372036854775807, 5", "0, 5, 0",
                                                     "(-9223372036854775807 - 1), 0, 4611686018427387904"}) + ")";
      case 5: return a + "[" + one_of<std::string>({"::9223372036854775807", "1::9223372036854775807", "::-9223372036854775807",
                                                    "::(-9223372036854775807 - 1)", "-1:", "::-1", "0", "-1",
                                                    "9223372036854775807", "(-9223372036854775807 - 1)"}) + "]";
      case 6: return "(" + a + " | " + one_of<std::string>({"center(100000000000)", "center(9223372036854775807)", "indent(100000000000)",
                                                          "tojson(indent=100000000)", "int", "abs", "length", "join(',')",
                                                          "replace('', 'xx')", "format(1, 2)", "string", "list", "first",
                                                          "last", "sort", "unique", "trim", "upper", "items", "tojson",
                                                          "default('d')", "map('upper')", "select('odd')", "sum",
                                                          "batch(0)", "wordcount", "round(300)", "float", "dictsort"}) + ")";
      case 7: return "(" + a + ")." + one_of<std::string>({"ljust(100000000000)", "zfill(100000000000)", "split()", "startswith('a')",
                                                          "replace('a', 'bb', -1)", "strip()", "get('k')", "items()",
                                                          "format(1)", "rjust(9223372036854775807, 'x')", "append(1)",
                                                          "count('')", "lower()", "title()", "keys()"});
      case 8: return "-" + a;
      case 9: return "(" + a + " is " + one_of<std::string>({"defined", "string", "mapping", "divisibleby(0)", "even",
                                                             "odd", "none", "iterable", "number", "sameas(1)"}) + ")";
      case 10: return "(" + a + " if " + b + ")";
      case 11: return "m(" + a + ")";
      case 12: return "namespace(v=" + a + ")";
      case 13: return "(" + a + " ~ " + b + ")";
      case 14: return "raise_exception(" + a + ")";
      case 15: return "(" + a + " | int(base=" + one_of<std::string>({"0", "1", "37", "-1", "16"}) + "))";
      case 16: return "'" + one_of<std::string>({"%999999999d", "%.1000f", "%s%s", "%", "%q", "%c", "%(k)s", "%-99999999s"}) + "' % " + a;
      case 17: return "(" + a + " | string | " + one_of<std::string>({"int", "float"}) + ")";
      case 18: return "'" + one_of<std::string>({"99999999999999999999", "-9223372036854775809", "1e400", "0x10", "nan", "-inf"}) + "' | int";
      case 19: return one_of<std::string>({"1e400", "1e308 * 10", "-1e308 * 10"}) + " | " + one_of<std::string>({"int", "round", "abs", "string"});
      default: return a;
    }
  }

  // Statements of the template language.
  std::string stmts(int depth) {
    std::string out;
    for (int i = 0, n = 1 + static_cast<int>(pick(3)); i < n; ++i) {
      const std::string e = expr(2);
      switch (depth > 0 ? pick(12) : pick(4)) {
        case 0: out += "{{ " + e + " }}"; break;
        case 1: out += "text " + std::to_string(i); break;
        case 2: out += "{% set x = " + e + " %}"; break;
        case 3: out += "{% set ns.v = " + e + " %}"; break;
        case 4: out += "{% for i in " + e + " %}" + stmts(depth - 1) + "{% endfor %}"; break;
        case 5: out += "{% for i in range(" + one_of<std::string>({"100000", "99999", "50000"}) + ") %}" + stmts(depth - 1) + "{% endfor %}"; break;
        case 6: out += "{% if " + e + " %}" + stmts(depth - 1) + "{% else %}" + stmts(depth - 1) + "{% endif %}"; break;
        case 7: out += "{% macro m(a) %}" + stmts(depth - 1) + "{{ m(a) }}{% endmacro %}"; break;
        case 8: out += "{% set ns.v = ns.v ~ ns.v ~ ns.v %}"; break;
        case 9: out += "{% set ns.l = ns.l + ns.l + ns.l %}"; break;
        case 10: out += "{% filter upper %}" + stmts(depth - 1) + "{% endfilter %}"; break;
        default: out += "{% for k in " + e + " if k %}{{ loop.cycle(k, 1) }}{% break %}{% endfor %}";
      }
    }
    return out;
  }

  std::string hostile_template(const std::string& qwen3) {
    auto repeat = [&](const std::string& s, size_t n) {
      std::string r;
      for (size_t i = 0; i < n; ++i) r += s;
      return r;
    };
    const size_t n = chance(2) ? 100 + pick(1000) : chance(10) ? 100000 + pick(200000) : 1000 + pick(5000);
    switch (pick(12)) {
      case 0: return "{{ " + repeat("(", n) + "1" + repeat(")", n) + " }}";
      case 1: return repeat("{% if true %}", n) + "x" + repeat("{% endif %}", n);
      case 2: return "{{ " + repeat(one_of<std::string>({"not ", "-", "+", "- -"}), n) + "1 }}";
      case 3: return "{{ " + repeat("[", n) + repeat("]", n) + " }}";
      case 4: return "{{ x" + repeat(".a", n) + " }}";
      case 5: return "{{ " + repeat("{'a': ", n) + "1" + repeat("}", n) + " }}";
      case 6: return "{{ " + repeat("1 + ", n) + "1 }}";
      case 7: return "{{ " + repeat("f(", n) + repeat(")", n) + " }}";
      case 8: {
        std::string t = qwen3;
        for (int i = 0, k = 1 + static_cast<int>(pick(4)); i < k; ++i) {
          const size_t at = pick(t.size());
          switch (pick(3)) {
            case 0: t[at] = static_cast<char>(pick(256)); break;
            case 1: t.erase(at, 1 + pick(20)); break;
            default: t.insert(at, one_of<std::string>({"{%", "%}", "{{", "}}", "{#", "(", "'", "endfor", "\xff"}));
          }
        }
        return t;
      }
      default: return "{% set ns = namespace(v='ab', l=[1]) %}{% macro m(a) %}{{ a }}{% endmacro %}" + stmts(3);
    }
  }

 private:
  std::mt19937_64 rng_;
};

// A conversation the Qwen3 template must render: one or more messages of a known role and
// string content only (whatever the text), no tools or documents, enable_thinking a bool if given.
bool plain(const ChatTemplateInputs& in) {
  if (in.messages.empty()) return false;  // messages[0].role: jinja2's UndefinedError too
  for (const ojson& m : in.messages) {
    if (!m.is_object() || m.size() != 2 || !m.contains("role") || !m.contains("content") || !m["content"].is_string())
      return false;
    if (!m["role"].is_string()) return false;
    const std::string role = m["role"].get<std::string>();
    if (role != "system" && role != "user" && role != "assistant" && role != "tool") return false;
  }
  return in.tools.is_null() && in.documents.is_null() &&
         (in.kwargs.empty() || (in.kwargs.size() == 1 && in.kwargs["enable_thinking"].is_boolean()));
}

// Runs f; "" if it returned or raised a one-line rotor::Error (its message in *error), else
// what went wrong.
template <class F>
std::string run_checked(F&& f, std::string* error = nullptr) {
  try {
    f();
    return "";
  } catch (const Error& e) {
    if (error) *error = e.what();
    return check_message(e.what());
  } catch (const std::exception& e) {
    return fmt::format("{}: {}", typeid(e).name(), excerpt(e.what()));
  }
}

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

TEST(TemplateFuzz, Qwen3RendersOddConversationsOrRefusesThemInOneLine) {
  const uint64_t seed = env_number("ROTOR_TEST_SEED", 20251208);
  const uint64_t inputs = env_number("ROTOR_FUZZ_INPUTS", 1000);
  const bool trace = std::getenv("ROTOR_FUZZ_TRACE") != nullptr;
  print_seed("qwen3 template fuzz", seed, inputs);
  Gen gen(seed);
  const auto tpl = ChatTemplate::embedded_qwen3();
  int rendered = 0, failures = 0;
  for (uint64_t i = 0; i < inputs && failures < 10; ++i) {
    const ChatTemplateInputs in = gen.conversation();
    if (trace) std::fprintf(stderr, "input %llu: %s\n", static_cast<unsigned long long>(i), excerpt(in.messages.dump(-1, ' ', false, ojson::error_handler_t::replace)).c_str());
    const auto start = std::chrono::steady_clock::now();
    std::string text, error;
    std::string bad = run_checked([&] { text = tpl->render(in); }, &error);
    if (bad.empty() && seconds_since(start) > 30.0) bad = fmt::format("took {:.1f} s", seconds_since(start));
    if (bad.empty() && !error.empty() && plain(in)) bad = "a plain conversation was refused: " + error;
    if (!text.empty()) ++rendered;
    if (bad.empty()) continue;
    ++failures;
    ADD_FAILURE() << "input " << i << ": " << bad << "\n  messages: "
                  << excerpt(in.messages.dump(-1, ' ', false, ojson::error_handler_t::replace));
  }
  std::printf("%d of %llu conversations rendered\n", rendered, static_cast<unsigned long long>(inputs));
  EXPECT_GT(rendered, static_cast<int>(inputs / 10));
}

TEST(TemplateFuzz, HostileTemplatesLoadAndRenderOrFailInOneLine) {
  const uint64_t seed = env_number("ROTOR_TEST_SEED", 20251208);
  const uint64_t inputs = env_number("ROTOR_FUZZ_INPUTS", 600);
  const bool trace = std::getenv("ROTOR_FUZZ_TRACE") != nullptr;
  print_seed("hostile template fuzz", seed, inputs);
  Gen gen(seed);
  const std::string qwen3 =
      nlohmann::json::parse(embedded::qwen3_tokenizer_config_json())["chat_template"].get<std::string>();
  int loaded = 0, rendered = 0, failures = 0;
  double slowest = 0;
  uint64_t slowest_input = 0;
  for (uint64_t i = 0; i < inputs && failures < 10; ++i) {
    const std::string source = gen.hostile_template(qwen3);
    ChatTemplateInputs in;
    in.messages = {gen.message(), gen.message()};
    if (trace) std::fprintf(stderr, "input %llu: %s\n", static_cast<unsigned long long>(i), excerpt(source).c_str());
    const auto start = std::chrono::steady_clock::now();
    std::unique_ptr<ChatTemplate> tpl;
    std::string bad = run_checked([&] { tpl = std::make_unique<ChatTemplate>(source); });
    if (bad.empty() && tpl) {
      ++loaded;
      bad = run_checked([&] {
        tpl->render(in);
        ++rendered;
      });
    }
    const double seconds = seconds_since(start);
    if (seconds > slowest) {
      slowest = seconds;
      slowest_input = i;
    }
    if (bad.empty() && seconds > 30.0) bad = fmt::format("took {:.1f} s", seconds);
    if (bad.empty()) continue;
    ++failures;
    ADD_FAILURE() << "input " << i << ": " << bad << "\n  template: " << excerpt(source);
  }
  std::printf("%d of %llu templates loaded, %d rendered; the slowest, input %llu, took %.2f s\n", loaded,
              static_cast<unsigned long long>(inputs), rendered, static_cast<unsigned long long>(slowest_input), slowest);
  EXPECT_GT(loaded, static_cast<int>(inputs / 10));
}

}  // namespace
}  // namespace rotor
