// tokenizer/chat_template.h — Hugging Face chat templates: the Jinja template of
// tokenizer_config.json ("chat_template") rendered as transformers' apply_chat_template(
// messages, tools=..., documents=..., add_generation_prompt=..., **kwargs, tokenize=False)
// does it (Jinja2 with trim_blocks and lstrip_blocks, transformers' tojson, raise_exception,
// strftime_now, the special tokens of tokenizer_config.json as variables).
//
// The template is parsed when loaded: a construct the interpreter does not implement is an
// error then (naming it and its line), never at request time. Rendering errors (a template's
// raise_exception, a type error on odd input) raise rotor::Error with the template's message:
// the server turns them into a 400.
//
// Inputs are nlohmann::ordered_json so that key order survives: tojson prints dict keys in
// the order the request gave them, as Python does.
#pragma once
#include <filesystem>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

namespace rotor {

namespace jinja {
struct Stmt;
struct Dict;
}  // namespace jinja

struct ChatTemplateInputs {
  nlohmann::ordered_json messages = nlohmann::ordered_json::array();  // [{"role", "content", ...}]
  nlohmann::ordered_json tools;      // null (no tools) or an array of tool schemas
  nlohmann::ordered_json documents;  // null or an array
  bool add_generation_prompt = false;
  // Extra template variables: enable_thinking, any chat_template_kwargs of a request.
  nlohmann::ordered_json kwargs = nlohmann::ordered_json::object();
};

class ChatTemplate {
 public:
  // One template; `variables` are extra globals every render sees (e.g. {"eos_token": ...}).
  ChatTemplate(std::string source, nlohmann::ordered_json variables = nlohmann::ordered_json::object());
  ~ChatTemplate();
  ChatTemplate(const ChatTemplate&) = delete;
  ChatTemplate& operator=(const ChatTemplate&) = delete;

  // From the text of tokenizer_config.json: its chat_template (a string, or a list of named
  // templates: "tool_use" is taken when tools are given, else "default") and its special
  // tokens. `template_override` (the text of a chat_template.jinja file) replaces the config's.
  // Returns null when there is no template.
  static std::shared_ptr<const ChatTemplate> from_tokenizer_config(
      std::string_view config_json, std::optional<std::string> template_override = std::nullopt);
  // tokenizer_config.json (and chat_template.jinja, if present) of a model directory.
  static std::shared_ptr<const ChatTemplate> from_dir(const std::filesystem::path& dir);
  // The Qwen3 template embedded in the binary (tokenizer/embedded.h).
  static std::shared_ptr<const ChatTemplate> embedded_qwen3();

  // The prompt text. Thread-safe.
  std::string render(const ChatTemplateInputs& inputs) const;
  // The same, from an object shaped like an entry of chat_template_cases.json:
  // {"messages", "tools", "add_generation_prompt", "kwargs"} (all but messages optional).
  std::string render_request(const nlohmann::ordered_json& request) const;

 private:
  struct Parsed;
  ChatTemplate(std::map<std::string, std::unique_ptr<Parsed>> templates, nlohmann::ordered_json variables);
  static std::unique_ptr<Parsed> parse_named(const std::string& name, const std::string& source);
  const Parsed& pick(bool has_tools) const;

  std::map<std::string, std::unique_ptr<Parsed>> templates_;  // "default", "tool_use", ...
  nlohmann::ordered_json variables_;
};

}  // namespace rotor
