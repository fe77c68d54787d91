// server/grammar_cache.h — compiled grammars for the structured-output requests: the token
// table of the served vocabulary (built on first use, ~1 s), and the most recently used
// compiled grammars by the request's constraint (agents send the same schemas and tools over
// and over; a grammar's per-state masks, filled as matchers need them, stay with it).
#pragma once
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "server/request.h"
#include "structured/compiled_grammar.h"

namespace rotor {
class Tokenizer;
}

namespace rotor::server {

class GrammarCache {
 public:
  // stop_ids: the engine's eos tokens (allowed, and only they, once a grammar is complete).
  GrammarCache(std::shared_ptr<const Tokenizer> tokenizer, int vocab_size, std::vector<int32_t> stop_ids,
               size_t capacity = 64);
  // The compiled grammar of a constraint (nullptr for none); rotor::Error (a 400) naming the
  // field and what in it cannot be compiled.
  std::shared_ptr<const structured::CompiledGrammar> get(const StructuredSpec& spec);

 private:
  std::shared_ptr<const Tokenizer> tokenizer_;
  int vocab_size_;
  std::vector<int32_t> stop_ids_;
  size_t capacity_;
  std::mutex mu_;
  std::shared_ptr<const structured::TokenTable> table_;
  std::list<std::string> lru_;  // most recent first
  std::unordered_map<std::string,
                     std::pair<std::shared_ptr<const structured::CompiledGrammar>, std::list<std::string>::iterator>>
      map_;
};

}  // namespace rotor::server
