// apps/chat_template.cpp — `rotor chat-template`: renders a request ({"messages", "tools",
// "add_generation_prompt", "kwargs"}, as in chat_template_cases.json) with a model directory's
// chat template, or the embedded Qwen3 one, and prints the prompt (or, with --output json, the
// prompt and its token ids).
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "apps/commands.h"
#include "core/check.h"
#include "tokenizer/chat_template.h"
#include "tokenizer/tokenizer.h"

namespace rotor::app {
namespace {

struct ChatTemplateArgs {
  std::string tokenizer_dir;
  std::string request;
  std::string output = "text";
};

void run(const ChatTemplateArgs& a) {
  ROTOR_CHECK(a.output == "text" || a.output == "json", "--output must be text or json");
  std::ifstream f(a.request, std::ios::binary);
  ROTOR_CHECK(f.good(), "cannot open {}", a.request);
  std::stringstream ss;
  ss << f.rdbuf();
  nlohmann::ordered_json req;
  try {
    req = nlohmann::ordered_json::parse(ss.str());
  } catch (const nlohmann::json::exception& e) {
    ROTOR_FAIL("{}: not valid JSON: {}", a.request, e.what());
  }
  const auto tmpl = a.tokenizer_dir.empty() ? ChatTemplate::embedded_qwen3() : ChatTemplate::from_dir(a.tokenizer_dir);
  ROTOR_CHECK(tmpl != nullptr, "{}: no chat template (tokenizer_config.json has no chat_template)", a.tokenizer_dir);
  const std::string prompt = tmpl->render_request(req);
  if (a.output == "text") {
    std::fwrite(prompt.data(), 1, prompt.size(), stdout);
    return;
  }
  const auto tok = a.tokenizer_dir.empty() ? Tokenizer::embedded_qwen3()
                                           : Tokenizer::from_file(std::filesystem::path(a.tokenizer_dir) / "tokenizer.json");
  std::printf("%s\n", nlohmann::json{{"prompt", prompt}, {"ids", tok->encode(prompt)}}.dump().c_str());
}

}  // namespace

void add_chat_template(CLI::App& app) {
  auto a = std::make_shared<ChatTemplateArgs>();
  CLI::App* c = app.add_subcommand("chat-template", "Render a chat request with the chat template; print the prompt");
  c->add_option("--tokenizer", a->tokenizer_dir,
                "Directory with tokenizer_config.json (default: the embedded Qwen3 template)");
  c->add_option("--request", a->request, "JSON file: {\"messages\", \"tools\", \"add_generation_prompt\", \"kwargs\"}")
      ->required();
  c->add_option("--output", a->output, "text (the prompt) | json (prompt and token ids)")->capture_default_str();
  c->callback([a] { run(*a); });
}

}  // namespace rotor::app
