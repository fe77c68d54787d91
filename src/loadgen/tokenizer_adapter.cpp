// loadgen/tokenizer_adapter.cpp — PromptTokenizer over rotor::Tokenizer and rotor::ChatTemplate.
#include "loadgen/tokenizer_adapter.h"

#include <filesystem>
#include <unordered_set>

#include "core/check.h"
#include "tokenizer/chat_template.h"
#include "tokenizer/tokenizer.h"

namespace rotor::loadgen {

namespace {

class ModuleTokenizer final : public PromptTokenizer {
 public:
  ModuleTokenizer(std::shared_ptr<const Tokenizer> tok, std::shared_ptr<const ChatTemplate> chat,
                  std::string where, nlohmann::ordered_json kwargs)
      : tok_(std::move(tok)), chat_(std::move(chat)), where_(std::move(where)), kwargs_(std::move(kwargs)) {
    for (const AddedToken& t : tok_->added_tokens()) added_.insert(t.id);
  }

  int32_t vocab_size() const override { return tok_->vocab_size(); }
  bool is_special(int32_t id) const override { return !tok_->contains(id) || added_.count(id) > 0; }
  std::string decode(int32_t id) const override { return tok_->decode(std::span<const int32_t>(&id, 1)); }
  std::vector<int32_t> encode(std::string_view text) const override { return tok_->encode(text); }

  int64_t chat_prompt_tokens(std::string_view content) const override {
    ROTOR_CHECK(chat_ != nullptr, "--tokenizer: {} has no chat template; use --endpoint completions", where_);
    ChatTemplateInputs in;
    in.messages = nlohmann::ordered_json::array({{{"role", "user"}, {"content", std::string(content)}}});
    in.add_generation_prompt = true;
    in.kwargs = kwargs_;
    return static_cast<int64_t>(tok_->encode(chat_->render(in)).size());
  }

 private:
  std::shared_ptr<const Tokenizer> tok_;
  std::shared_ptr<const ChatTemplate> chat_;
  std::string where_;
  nlohmann::ordered_json kwargs_;
  std::unordered_set<int32_t> added_;
};

}  // namespace

std::unique_ptr<PromptTokenizer> load_prompt_tokenizer(const std::string& dir,
                                                       const nlohmann::json& chat_template_kwargs) {
  ROTOR_CHECK(chat_template_kwargs.is_null() || chat_template_kwargs.is_object(),
              "chat_template_kwargs must be a JSON object");
  nlohmann::ordered_json kwargs = chat_template_kwargs.is_object()
                                      ? nlohmann::ordered_json::parse(chat_template_kwargs.dump())
                                      : nlohmann::ordered_json::object();
  if (dir.empty())
    return std::make_unique<ModuleTokenizer>(Tokenizer::embedded_qwen3(), ChatTemplate::embedded_qwen3(),
                                             "the embedded Qwen3 tokenizer", std::move(kwargs));
  const std::filesystem::path d(dir);
  ROTOR_CHECK(std::filesystem::exists(d / "tokenizer.json"), "--tokenizer: no tokenizer.json in '{}'", dir);
  return std::make_unique<ModuleTokenizer>(Tokenizer::from_file(d / "tokenizer.json"), ChatTemplate::from_dir(d),
                                           "'" + dir + "'", std::move(kwargs));
}

}  // namespace rotor::loadgen
