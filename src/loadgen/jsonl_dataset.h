// loadgen/jsonl_dataset.h — the `jsonl` dataset: real prompts, one JSON object per line:
//   {"prompt": "text"}  or  {"messages": [{"role": "user", "content": "..."}, ...]}
// with optional "max_tokens" (or "output_len") per line. Lines are used in order and reused
// from the top when more prompts are asked for than the file has.
#pragma once
#include <string>
#include <vector>

#include "loadgen/openai_stream.h"

namespace rotor::loadgen {

// All prompts of the file (at least one); bad lines fail with their line number.
std::vector<Prompt> load_jsonl(const std::string& path, Endpoint endpoint);

}  // namespace rotor::loadgen
