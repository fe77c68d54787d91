// server/grammar_cache.cpp — a constraint → grammar (structured/) → compiled, with an LRU of
// compiled grammars and, beside it, the compiles in flight that later requests wait for.
#include "server/grammar_cache.h"

#include <chrono>

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

// The value of a build (this request's or another's); its rotor::Error named by `field`, the
// request's own (requests of one key may come from different fields).
template <typename T>
T await(const std::shared_future<T>& f, const std::string& field) {
  try {
    return f.get();
  } catch (const Error& e) {
    ROTOR_FAIL("'{}': {}", field, e.what());
  }
}

}  // namespace

GrammarCache::GrammarCache(std::shared_ptr<const Tokenizer> tokenizer, int vocab_size, std::vector<int32_t> stop_ids,
                           size_t capacity)
    : GrammarCache(
          [tokenizer = std::move(tokenizer), vocab_size, stop_ids = std::move(stop_ids)] {
            ROTOR_CHECK(!stop_ids.empty(), "structured outputs need the model's eos token ids");
            return structured::TokenTable::from_tokenizer(*tokenizer, vocab_size, stop_ids);
          },
          &GrammarCache::compile_spec, capacity) {}

GrammarCache::GrammarCache(MakeTable make_table, Compile compile, size_t capacity)
    : make_table_(std::move(make_table)), compile_(std::move(compile)), capacity_(capacity) {}

GrammarCache::Compiled GrammarCache::compile_spec(const StructuredSpec& spec, Table table) {
  // The masks too, here on the request's thread, as many as the budget allows: those left to
  // first use are computed on the engine's thread, in the step of every running sequence.
  Compiled g = structured::CompiledGrammar::compile(grammar_of(spec), std::move(table),
                                                    structured::CompiledGrammar::kServedMasksMs);
  const structured::CompileStats st = g->stats();
  ROTOR_LOG_DEBUG("structured output ({}): {} states, compiled in {:.1f} ms; masks of {} of {} classes in {:.1f} ms",
                  spec.field, st.states, st.automaton_ms, st.classes_computed, st.classes, st.masks_ms);
  return g;
}

GrammarCache::Table GrammarCache::table() {
  std::promise<Table> built;
  std::shared_future<Table> f;
  bool mine = false;
  {
    std::lock_guard lk(mu_);
    if (!table_.valid()) table_ = built.get_future().share(), mine = true;
    f = table_;
  }
  if (mine) {
    try {
      built.set_value(make_table_());
    } catch (...) {
      {
        std::lock_guard lk(mu_);
        table_ = {};  // the next request tries again
      }
      built.set_exception(std::current_exception());
    }
  } else if (wait_hook_ && f.wait_for(std::chrono::seconds(0)) != std::future_status::ready) {
    wait_hook_();
  }
  return f.get();
}

GrammarCache::Compiled GrammarCache::get(const StructuredSpec& spec) {
  if (spec.kind == Kind::None) return nullptr;
  const std::string key = spec.key();
  std::unique_lock lk(mu_);
  if (auto it = map_.find(key); it != map_.end()) {
    lru_.splice(lru_.begin(), lru_, it->second.lru);
    return it->second.grammar;
  }
  if (auto it = compiling_.find(key); it != compiling_.end()) {
    const std::shared_future<Compiled> f = it->second;
    lk.unlock();
    if (wait_hook_) wait_hook_();
    return await(f, spec.field);
  }
  // This request compiles it, with the lock released; the next ones for the key wait on f.
  std::promise<Compiled> compiled;
  const std::shared_future<Compiled> f = compiled.get_future().share();
  compiling_.emplace(key, f);
  lk.unlock();
  Compiled g;
  std::exception_ptr error;
  try {
    g = compile_(spec, table());
  } catch (...) {
    error = std::current_exception();
  }
  lk.lock();
  compiling_.erase(key);
  if (g) {
    lru_.push_front(key);
    map_[key] = {g, lru_.begin()};
    if (map_.size() > capacity_) {
      map_.erase(lru_.back());
      lru_.pop_back();
    }
  }
  lk.unlock();
  if (error) compiled.set_exception(error);
  else compiled.set_value(std::move(g));
  return await(f, spec.field);
}

}  // namespace rotor::server
