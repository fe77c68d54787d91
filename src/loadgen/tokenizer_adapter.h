// loadgen/tokenizer_adapter.h — the PromptTokenizer of the random dataset over rotor's tokenizer
// module: tokenizer.json and the chat template of a model directory, or the Qwen3 tokenizer
// and template embedded in the binary (what `rotor serve` serves by default).
#pragma once
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "loadgen/prompt_tokenizer.h"

namespace rotor::loadgen {

// dir: a model directory with tokenizer.json (and tokenizer_config.json for the chat endpoint);
// "" for the embedded Qwen3 tokenizer. chat_template_kwargs: what the requests send (e.g.
// {"enable_thinking": false}), so chat prompts are counted with the template the server renders.
std::unique_ptr<PromptTokenizer> load_prompt_tokenizer(const std::string& dir,
                                                       const nlohmann::json& chat_template_kwargs);

}  // namespace rotor::loadgen
