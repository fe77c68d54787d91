// server/grammar_cache.cpp — a constraint → grammar (structured/) → compiled, with an LRU.
#include "server/grammar_cache.h"

#include "core/check.h"
#include "core/log.h"
#include "structured/ebnf.h"
#include "structured/json_schema.h"
#include "structured/regex.h"
#include "tokenizer/tokenizer.h"

namespace rotor::server {
namespace {

using Kind = StructuredSpec::Kind;

structured::Grammar grammar_of(const StructuredSpec& s) {
  switch (s.kind) {
    case Kind::JsonSchema: return structured::json_schema_grammar(s.text);
    case Kind::JsonObject: return structured::json_object_grammar();
    case Kind::Regex: return structured::regex_grammar(s.text);
    case Kind::Choice: return structured::choice_grammar(s.choices);
    case Kind::Grammar: return structured::parse_ebnf(s.text);
    case Kind::ToolCalls: {
      std::vector<structured::ToolSpec> tools;
      for (const auto& [name, params] : s.tools) tools.push_back({name, params});
      return structured::tool_calls_grammar(tools, s.several);
    }
    case Kind::None: break;
  }
  ROTOR_FAIL("no structured output");
}

}  // namespace

GrammarCache::GrammarCache(std::shared_ptr<const Tokenizer> tokenizer, int vocab_size, std::vector<int32_t> stop_ids,
                           size_t capacity)
    : tokenizer_(std::move(tokenizer)), vocab_size_(vocab_size), stop_ids_(std::move(stop_ids)), capacity_(capacity) {}

std::shared_ptr<const structured::CompiledGrammar> GrammarCache::get(const StructuredSpec& spec) {
  if (spec.kind == Kind::None) return nullptr;
  const std::string key = spec.key();
  std::lock_guard lk(mu_);
  if (auto it = map_.find(key); it != map_.end()) {
    lru_.splice(lru_.begin(), lru_, it->second.second);
    return it->second.first;
  }
  if (!table_) {
    ROTOR_CHECK(!stop_ids_.empty(), "{}: structured outputs need the model's eos token ids", spec.field);
    table_ = structured::TokenTable::from_tokenizer(*tokenizer_, vocab_size_, stop_ids_);
  }
  std::shared_ptr<const structured::CompiledGrammar> g;
  try {
    g = structured::CompiledGrammar::compile(grammar_of(spec), table_);
  } catch (const Error& e) {
    ROTOR_FAIL("'{}': {}", spec.field, e.what());
  }
  const structured::CompileStats st = g->stats();
  ROTOR_LOG_DEBUG("structured output ({}): {} states, {} mask classes, compiled in {:.1f} ms", spec.field, st.states,
                  st.classes, st.automaton_ms);
  lru_.push_front(key);
  map_[key] = {g, lru_.begin()};
  if (map_.size() > capacity_) {
    map_.erase(lru_.back());
    lru_.pop_back();
  }
  return g;
}

}  // namespace rotor::server
