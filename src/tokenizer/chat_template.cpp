// tokenizer/chat_template.cpp — tokenizer_config.json → parsed templates; inputs → variables →
// the interpreter.
#include "tokenizer/chat_template.h"

#include <fstream>
#include <sstream>
#include <vector>

#include "core/check.h"
#include "tokenizer/embedded.h"
#include "tokenizer/jinja/interpreter.h"
#include "tokenizer/jinja/parser.h"

namespace rotor {

struct ChatTemplate::Parsed {
  std::string name;
  jinja::Body body;
};

namespace {

// A special token of tokenizer_config.json: a string or {"content": ...} (an AddedToken).
std::optional<std::string> token_text(const nlohmann::ordered_json& j) {
  if (j.is_string()) return j.get<std::string>();
  if (j.is_object() && j.contains("content") && j["content"].is_string()) return j["content"].get<std::string>();
  return std::nullopt;
}

// transformers' _alias_reasoning_fields: a message with reasoning under any of its names gets
// {"thinking": r, **message, "reasoning_content": r} (templates read reasoning_content).
nlohmann::ordered_json alias_reasoning(const nlohmann::ordered_json& messages) {
  nlohmann::ordered_json out = nlohmann::ordered_json::array();
  for (const auto& m : messages) {
    const nlohmann::ordered_json* reasoning = nullptr;
    if (m.is_object())
      for (const char* k : {"reasoning_content", "thinking", "reasoning"})
        if (!reasoning && m.contains(k) && !m[k].is_null()) reasoning = &m[k];
    if (!reasoning) {
      out.push_back(m);
      continue;
    }
    nlohmann::ordered_json a = nlohmann::ordered_json::object();
    a["thinking"] = *reasoning;
    for (const auto& [k, v] : m.items()) a[k] = v;
    a["reasoning_content"] = *reasoning;
    out.push_back(std::move(a));
  }
  return out;
}

// Raises when j nests deeper than the interpreter takes (jinja::kMaxNesting). It walks with a
// stack of its own, so an input of any depth is refused before anything copies it: nlohmann
// copies recursively, and alias_reasoning copies every message.
void check_nesting(const nlohmann::ordered_json& j, const char* what) {
  std::vector<std::pair<const nlohmann::ordered_json*, int>> todo{{&j, 0}};
  while (!todo.empty()) {
    const auto [v, depth] = todo.back();
    todo.pop_back();
    if (!v->is_structured()) continue;
    ROTOR_CHECK(depth < jinja::kMaxNesting, "chat template: {} nested more than {} levels deep", what, jinja::kMaxNesting);
    for (const auto& e : *v) todo.emplace_back(&e, depth + 1);
  }
}

std::string read_file(const std::filesystem::path& p) {
  std::ifstream f(p, std::ios::binary);
  ROTOR_CHECK(f.good(), "cannot open {}", p.string());
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

}  // namespace

std::unique_ptr<ChatTemplate::Parsed> ChatTemplate::parse_named(const std::string& name, const std::string& source) {
  auto p = std::make_unique<Parsed>();
  p->name = name;
  try {
    p->body = jinja::parse(source);
  } catch (const Error& e) {
    ROTOR_FAIL("{}{}", name == "default" ? "" : "chat template '" + name + "': ", e.what());
  }
  return p;
}

ChatTemplate::ChatTemplate(std::string source, nlohmann::ordered_json variables) : variables_(std::move(variables)) {
  templates_.emplace("default", parse_named("default", source));
}

ChatTemplate::ChatTemplate(std::map<std::string, std::unique_ptr<Parsed>> templates, nlohmann::ordered_json variables)
    : templates_(std::move(templates)), variables_(std::move(variables)) {}

ChatTemplate::~ChatTemplate() = default;

std::shared_ptr<const ChatTemplate> ChatTemplate::from_tokenizer_config(std::string_view config_json,
                                                                        std::optional<std::string> template_override) {
  nlohmann::ordered_json cfg;
  try {
    cfg = nlohmann::ordered_json::parse(config_json);
  } catch (const nlohmann::json::exception& e) {
    ROTOR_FAIL("tokenizer_config.json is not valid JSON: {}", e.what());
  }
  ROTOR_CHECK(cfg.is_object(), "tokenizer_config.json is not a JSON object");
  // transformers passes tokenizer.special_tokens_map: the special tokens that are set.
  nlohmann::ordered_json vars = nlohmann::ordered_json::object();
  for (const char* k : {"bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token"})
    if (cfg.contains(k))
      if (auto t = token_text(cfg[k])) vars[k] = *t;
  if (cfg.contains("additional_special_tokens") && cfg["additional_special_tokens"].is_array()) {
    nlohmann::ordered_json extra = nlohmann::ordered_json::array();
    for (const auto& t : cfg["additional_special_tokens"])
      if (auto s = token_text(t)) extra.push_back(*s);
    vars["additional_special_tokens"] = extra;
  }
  std::map<std::string, std::unique_ptr<Parsed>> templates;
  if (template_override) {
    templates.emplace("default", parse_named("default", *template_override));
  } else if (cfg.contains("chat_template") && cfg["chat_template"].is_string()) {
    templates.emplace("default", parse_named("default", cfg["chat_template"].get<std::string>()));
  } else if (cfg.contains("chat_template") && cfg["chat_template"].is_array()) {
    for (const auto& t : cfg["chat_template"]) {
      ROTOR_CHECK(t.is_object() && t.contains("name") && t.contains("template") && t["name"].is_string() &&
                      t["template"].is_string(),
                  "tokenizer_config.json: chat_template entries must be {{\"name\", \"template\"}}");
      const std::string name = t["name"].get<std::string>();
      templates.emplace(name, parse_named(name, t["template"].get<std::string>()));
    }
  }
  if (templates.empty()) return nullptr;
  return std::shared_ptr<const ChatTemplate>(new ChatTemplate(std::move(templates), std::move(vars)));
}

std::shared_ptr<const ChatTemplate> ChatTemplate::from_dir(const std::filesystem::path& dir) {
  const std::filesystem::path cfg = dir / "tokenizer_config.json", jinja_file = dir / "chat_template.jinja";
  std::optional<std::string> override_text;
  if (std::filesystem::exists(jinja_file)) override_text = read_file(jinja_file);
  const std::string cfg_text = std::filesystem::exists(cfg) ? read_file(cfg) : std::string("{}");
  try {
    return from_tokenizer_config(cfg_text, std::move(override_text));
  } catch (const Error& e) {
    ROTOR_FAIL("{}: {}", dir.string(), e.what());
  }
}

std::shared_ptr<const ChatTemplate> ChatTemplate::embedded_qwen3() {
  static const std::shared_ptr<const ChatTemplate> t = from_tokenizer_config(embedded::qwen3_tokenizer_config_json());
  return t;
}

const ChatTemplate::Parsed& ChatTemplate::pick(bool has_tools) const {
  if (templates_.size() == 1) return *templates_.begin()->second;
  if (has_tools)
    if (auto it = templates_.find("tool_use"); it != templates_.end()) return *it->second;
  const auto it = templates_.find("default");
  ROTOR_CHECK(it != templates_.end(),
              "this model has several chat templates and none is named 'default' (or 'tool_use' with tools)");
  return *it->second;
}

std::string ChatTemplate::render(const ChatTemplateInputs& in) const {
  ROTOR_CHECK(in.messages.is_array(), "chat template: messages must be a list");
  ROTOR_CHECK(in.kwargs.is_object() || in.kwargs.is_null(), "chat template: kwargs must be an object");
  check_nesting(in.messages, "messages");
  check_nesting(in.tools, "tools");
  check_nesting(in.documents, "documents");
  check_nesting(in.kwargs, "kwargs");
  const Parsed& t = pick(!in.tools.is_null());
  jinja::Dict vars;
  for (const auto& [k, v] : variables_.items()) vars.set(k, jinja::Value::from_json(v));
  vars.set("messages", jinja::Value::from_json(alias_reasoning(in.messages)));
  vars.set("tools", jinja::Value::from_json(in.tools));
  vars.set("documents", jinja::Value::from_json(in.documents));
  vars.set("add_generation_prompt", jinja::Value(in.add_generation_prompt));
  if (in.kwargs.is_object())
    for (const auto& [k, v] : in.kwargs.items()) vars.set(k, jinja::Value::from_json(v));
  return jinja::Interpreter(t.body, vars).render();
}

std::string ChatTemplate::render_request(const nlohmann::ordered_json& r) const {
  ROTOR_CHECK(r.is_object() && r.contains("messages"), "chat template request: an object with \"messages\" is required");
  check_nesting(r, "request");
  ChatTemplateInputs in;
  in.messages = r["messages"];
  if (r.contains("tools")) in.tools = r["tools"];
  if (r.contains("documents")) in.documents = r["documents"];
  if (r.contains("add_generation_prompt")) {
    ROTOR_CHECK(r["add_generation_prompt"].is_boolean(), "chat template request: add_generation_prompt must be a boolean");
    in.add_generation_prompt = r["add_generation_prompt"].get<bool>();
  }
  if (r.contains("kwargs") && !r["kwargs"].is_null()) in.kwargs = r["kwargs"];
  return render(in);
}

}  // namespace rotor
