// loadgen/jsonl_dataset.cpp — reads the jsonl dataset (format in jsonl_dataset.h).
#include "loadgen/jsonl_dataset.h"

#include <fstream>

#include "core/check.h"

namespace rotor::loadgen {

using nlohmann::json;

std::vector<Prompt> load_jsonl(const std::string& path, Endpoint endpoint) {
  std::ifstream in(path);
  ROTOR_CHECK(in.good(), "--dataset-path: cannot read '{}'", path);
  std::vector<Prompt> out;
  std::string line;
  for (int no = 1; std::getline(in, line); ++no) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const json j = json::parse(line, nullptr, /*allow_exceptions=*/false);
    ROTOR_CHECK(j.is_object(), "{}:{}: not a JSON object", path, no);
    Prompt p;
    if (auto it = j.find("prompt"); it != j.end()) {
      ROTOR_CHECK(it->is_string(), "{}:{}: \"prompt\" must be a string", path, no);
      p.text = it->get<std::string>();
    } else if (auto m = j.find("messages"); m != j.end()) {
      ROTOR_CHECK(m->is_array() && !m->empty(), "{}:{}: \"messages\" must be a non-empty array", path, no);
      ROTOR_CHECK(endpoint == Endpoint::kChat, "{}:{}: chat messages need --endpoint chat", path, no);
      p.messages = *m;
    } else {
      ROTOR_FAIL("{}:{}: needs \"prompt\" or \"messages\"", path, no);
    }
    for (const char* key : {"max_tokens", "output_len"})
      if (auto it = j.find(key); it != j.end()) {
        ROTOR_CHECK(it->is_number_integer() && it->get<int64_t>() > 0, "{}:{}: \"{}\" must be a positive integer",
                    path, no, key);
        p.max_tokens = it->get<int>();
      }
    out.push_back(std::move(p));
  }
  ROTOR_CHECK(!out.empty(), "--dataset-path: '{}' has no prompts", path);
  return out;
}

}  // namespace rotor::loadgen
