// server/chat_prompt.cpp — the prompt of a chat request: its messages, tools and
// chat_template_kwargs through the model's chat template (tokenizer/chat_template.h), with
// vLLM's continue_final_message (the prompt ends inside the last assistant message).
#include "server/api_error.h"
#include "server/endpoints.h"
#include "server/server.h"
#include "tokenizer/chat_template.h"

namespace rotor::server {

std::string render_chat_prompt(const Server& s, const ChatRequest& r) {
  if (!s.has_chat_template())
    bad_request("this model has no chat template (start the server with --chat-template, or use /v1/completions)");
  ChatTemplateInputs in;
  in.messages = r.messages;
  in.tools = r.tools;
  in.add_generation_prompt = r.add_generation_prompt;
  in.kwargs = r.chat_template_kwargs;
  std::string prompt = s.chat_template().render(in);
  if (r.continue_final_message) {
    const std::string& last = r.messages.back()["content"].get_ref<const std::string&>();
    const size_t at = last.empty() ? std::string::npos : prompt.rfind(last);
    if (at == std::string::npos)
      bad_request("continue_final_message: the final message does not appear in the rendered prompt", "messages");
    prompt.resize(at + last.size());
  }
  return prompt;
}

}  // namespace rotor::server
