// tests/tokenizer/test_chat_template.cpp — the Jinja interpreter and chat templates against
// transformers: the shared Qwen3 cases, more Qwen3 conversations and Jinja feature cases made by
// gen_chat_template_cases.py, and load-time errors for unsupported constructs.
#include <gtest/gtest.h>

#include "core/error.h"
#include "tests/tokenizer/tokenizer_test_util.h"
#include "tokenizer/chat_template.h"
#include "tokenizer/jinja/interpreter.h"
#include "tokenizer/jinja/parser.h"

namespace rotor {
namespace {

using test::data_dir;
using test::read_json;
using test::shared_dir;

// A template rendered with exactly these variables (what jinja2's Template.render(**vars) does).
std::string render(const std::string& tpl, const nlohmann::ordered_json& vars) {
  const jinja::Body body = jinja::parse(tpl);
  jinja::Dict d;
  for (const auto& [k, v] : vars.items()) d.set(k, jinja::Value::from_json(v));
  return jinja::Interpreter(body, d).render();
}

TEST(ChatTemplate, SharedQwen3Cases) {
  const auto path = shared_dir() / "fixtures" / "text" / "chat_template_cases.json";
  if (!std::filesystem::exists(path)) GTEST_SKIP() << "no " << path;
  const auto from_file = ChatTemplate::from_dir(shared_dir() / "tokenizers" / "qwen3");
  ASSERT_NE(from_file, nullptr);
  const auto cases = read_json(path);
  ASSERT_GE(cases.size(), 9u);
  for (const auto& c : cases) {
    EXPECT_EQ(from_file->render_request(c), c["rendered"].get<std::string>()) << c["messages"].dump();
    EXPECT_EQ(ChatTemplate::embedded_qwen3()->render_request(c), c["rendered"].get<std::string>());
  }
}

TEST(ChatTemplate, MoreQwen3Conversations) {
  for (const auto& c : read_json(data_dir() / "qwen3_chat_cases.json"))
    EXPECT_EQ(ChatTemplate::embedded_qwen3()->render_request(c), c["rendered"].get<std::string>()) << c["messages"].dump();
}

TEST(ChatTemplate, JinjaCasesMatchJinja2) {
  int n = 0;
  for (const auto& c : read_json(data_dir() / "jinja_cases.json")) {
    const std::string name = c["name"].get<std::string>();
    const std::string tpl = c["template"].get<std::string>();
    ++n;
    if (c.contains("error")) {
      EXPECT_THROW(render(tpl, c["vars"]), Error) << name << " (jinja2: " << c["python_error"].get<std::string>() << ")";
      continue;
    }
    try {
      EXPECT_EQ(render(tpl, c["vars"]), c["expected"].get<std::string>()) << name;
    } catch (const Error& e) {
      ADD_FAILURE() << name << ": " << e.what();
    }
  }
  EXPECT_GE(n, 50);
}

TEST(ChatTemplate, RenderErrorsCarryTheTemplateMessageAndLine) {
  try {
    render("line one\n{% if true %}\n{{ raise_exception('no system role, please') }}\n{% endif %}", {});
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "chat template line 3: no system role, please");
  }
  try {
    render("{{ x.y.z }}", {{"x", nlohmann::ordered_json::object()}});
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("has no attribute 'y'"), std::string::npos) << e.what();
  }
}

// Unsupported constructs fail when the template is loaded, naming the construct and its line.
TEST(ChatTemplate, LoadErrorsNameTheConstructAndLine) {
  const std::pair<std::string, std::string> cases[] = {
      {"ok\n{% include 'x.jinja' %}", "line 2: unsupported tag '{% include %}'"},
      {"{% extends 'base' %}", "line 1: unsupported tag '{% extends %}'"},
      {"{% call m() %}x{% endcall %}", "line 1: unsupported tag '{% call %}'"},
      {"a\nb\n{{ x | frobnicate }}", "line 3: unsupported filter 'frobnicate'"},
      {"{% if x is prime %}{% endif %}", "line 1: unsupported test 'is prime'"},
      {"{{ messages.append(1) }}", "line 1: unsupported method '.append()'"},
      {"{{ x.frob() }}", "line 1: unsupported method '.frob()'"},
      {"{{ cycler(1, 2) }}", "line 1: unsupported function 'cycler()'"},
      {"{% for x in y recursive %}{% endfor %}", "line 1: unsupported: recursive for loops"},
      {"{% frob %}", "line 1: unknown tag '{% frob %}'"},
      {"{% if x %}\nno end", "line 2: missing {% endif %}"},
      {"{% endfor %}", "line 1: unexpected '{% endfor %}'"},
      {"{% break %}", "line 1: '{% break %}' outside a for loop"},
      {"{{ 'unclosed }}", "line 1: string literal not closed"},
      {"{{ x ", "line 1: tag not closed with }}"},
      {"{# never closed", "line 1: comment not closed"},
      {"{{ f(*args) }}", "line 1: unsupported: *args / **kwargs in calls"},
      {"{{ (1 }}", "line 1:"},
  };
  for (const auto& [tpl, want] : cases) {
    try {
      const ChatTemplate t(tpl);
      ADD_FAILURE() << "no load error for: " << tpl;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(want), std::string::npos) << "template: " << tpl << "\nerror: " << e.what();
      EXPECT_TRUE(std::string(e.what()).starts_with("chat template line ")) << e.what();
    }
  }
}

TEST(ChatTemplate, MacrosCalledBeforeDefinitionAreFine) {
  EXPECT_EQ(render("{% macro a() %}{{ b() }}{% endmacro %}{% macro b() %}B{% endmacro %}{{ a() }}", {}), "B");
}

TEST(ChatTemplate, NamedTemplatesPickToolUseWithTools) {
  const std::string cfg = R"({"eos_token": {"content": "</s>"}, "chat_template": [
      {"name": "default", "template": "D{{ eos_token }}"}, {"name": "tool_use", "template": "T{{ tools | length }}"}]})";
  const auto t = ChatTemplate::from_tokenizer_config(cfg);
  ASSERT_NE(t, nullptr);
  ChatTemplateInputs in;
  EXPECT_EQ(t->render(in), "D</s>");
  in.tools = nlohmann::ordered_json::parse(R"([{"type": "function"}])");
  EXPECT_EQ(t->render(in), "T1");
  EXPECT_EQ(ChatTemplate::from_tokenizer_config(R"({"eos_token": "x"})"), nullptr);
}

TEST(ChatTemplate, KwargsBecomeVariables) {
  const ChatTemplate t("{{ enable_thinking }}|{{ custom.a }}|{{ add_generation_prompt }}|{{ tools }}|{{ messages | length }}");
  ChatTemplateInputs in;
  in.kwargs = nlohmann::ordered_json::parse(R"({"enable_thinking": false, "custom": {"a": [1, 2]}})");
  in.add_generation_prompt = true;
  EXPECT_EQ(t.render(in), "False|[1, 2]|True|None|0");
}

}  // namespace
}  // namespace rotor
