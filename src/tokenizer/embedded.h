// tokenizer/embedded.h — the Qwen3 tokenizer files compiled into the rotor binary
// (assets/qwen3/: tokenizer.json compressed with zstd, tokenizer_config.json), so rotor can
// tokenize and apply the chat template without a model directory.
#pragma once
#include <string>
#include <string_view>

namespace rotor::embedded {

// tokenizer.json of Qwen3, decompressed (about 11 MB; each call decompresses again).
std::string qwen3_tokenizer_json();
// tokenizer_config.json of Qwen3 (chat template, special tokens).
std::string_view qwen3_tokenizer_config_json();

}  // namespace rotor::embedded
