// apps/tokenize.cpp — `rotor tokenize`: text → token ids (a JSON list) or ids → text (a JSON
// string) with a model directory's tokenizer.json, or the embedded Qwen3 tokenizer.
#include <cstdio>
#include <nlohmann/json.hpp>
#include <sstream>

#include "apps/commands.h"
#include "core/check.h"
#include "tokenizer/tokenizer.h"

namespace rotor::app {
namespace {

struct TokenizeArgs {
  std::string tokenizer_dir;
  std::string text;
  std::string ids;
  bool text_given = false;
  bool skip_special_tokens = false;
};

std::vector<int32_t> parse_id_list(const std::string& s, const Tokenizer& tok) {
  std::vector<int32_t> ids;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) {
    size_t used = 0;
    long long v = -1;
    try {
      v = std::stoll(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    ROTOR_CHECK(used > 0 && used == item.size() && v >= 0 && v <= INT32_MAX,
                "--ids: '{}' is not a token id (expected comma-separated integers)", item);
    ROTOR_CHECK(tok.contains(static_cast<int32_t>(v)), "--ids: token {} is not in the tokenizer's vocabulary (size {})",
                v, tok.vocab_size());
    ids.push_back(static_cast<int32_t>(v));
  }
  return ids;
}

std::shared_ptr<const Tokenizer> load_app_tokenizer(const std::string& dir) {
  if (dir.empty()) return Tokenizer::embedded_qwen3();
  return Tokenizer::from_file(std::filesystem::path(dir) / "tokenizer.json");
}

void run(const TokenizeArgs& a) {
  ROTOR_CHECK(a.text_given != !a.ids.empty(), "give exactly one of --text and --ids");
  const std::shared_ptr<const Tokenizer> tok = load_app_tokenizer(a.tokenizer_dir);
  if (a.text_given) {
    std::printf("%s\n", nlohmann::json(tok->encode(a.text)).dump().c_str());
  } else {
    const std::vector<int32_t> ids = parse_id_list(a.ids, *tok);
    std::printf("%s\n", nlohmann::json(tok->decode(ids, a.skip_special_tokens)).dump().c_str());
  }
}

}  // namespace

void add_tokenize(CLI::App& app) {
  auto a = std::make_shared<TokenizeArgs>();
  CLI::App* c = app.add_subcommand("tokenize", "Encode text to token ids, or decode ids to text (JSON out)");
  c->add_option("--tokenizer", a->tokenizer_dir, "Directory with tokenizer.json (default: the embedded Qwen3 tokenizer)");
  c->add_option("--text", a->text, "Text to encode; prints the ids as a JSON list");
  c->add_option("--ids", a->ids, "Comma-separated ids to decode; prints the text as a JSON string");
  c->add_flag("--skip-special-tokens", a->skip_special_tokens, "Leave special tokens out of decoded text");
  c->callback([a, c] {
    a->text_given = c->count("--text") > 0;
    run(*a);
  });
}

}  // namespace rotor::app
