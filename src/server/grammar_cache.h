// server/grammar_cache.h — compiled grammars for the structured-output requests: the token
// table of the served vocabulary (built on first use, ~1 s), and the most recently used
// compiled grammars by the request's constraint (agents send the same schemas and tools over
// and over; a grammar's per-class masks stay with it: those nearest its start computed with
// it, within a budget, the rest filled as matchers need them).
// Compiles run outside the cache's lock: a slow one (seconds for a huge schema) delays only
// the requests for the same constraint, which wait for it rather than compile it again.
#pragma once
#include <cstdint>
#include <functional>
#include <future>
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
  using Compiled = std::shared_ptr<const structured::CompiledGrammar>;
  using Table = std::shared_ptr<const structured::TokenTable>;
  using MakeTable = std::function<Table()>;
  using Compile = std::function<Compiled(const StructuredSpec&, Table)>;

  // stop_ids: the engine's eos tokens (allowed, and only they, once a grammar is complete).
  GrammarCache(std::shared_ptr<const Tokenizer> tokenizer, int vocab_size, std::vector<int32_t> stop_ids,
               size_t capacity = 64);
  // How the table is made and a constraint compiled, given (tests wrap compile_spec).
  GrammarCache(MakeTable make_table, Compile compile, size_t capacity);

  // The compiled grammar of a constraint (nullptr for none); rotor::Error (a 400) naming the
  // field and what in it cannot be compiled. Thread-safe; a failed compile is not kept (the
  // requests waiting for it get its error, the next one compiles again).
  Compiled get(const StructuredSpec& spec);

  // The grammar of a constraint compiled over a table (what the first constructor uses).
  static Compiled compile_spec(const StructuredSpec& spec, Table table);

  // Called, outside the lock, each time a request starts waiting for the table or a grammar
  // that another request is building (for tests; set before any get).
  void set_wait_hook(std::function<void()> hook) { wait_hook_ = std::move(hook); }

 private:
  struct Entry {
    Compiled grammar;
    std::list<std::string>::iterator lru;
  };
  Table table();  // built once, by the first request that needs it

  MakeTable make_table_;
  Compile compile_;
  size_t capacity_;
  std::function<void()> wait_hook_;
  std::mutex mu_;
  std::shared_future<Table> table_;  // invalid until a request builds it (again after a failure)
  std::list<std::string> lru_;       // most recent first
  std::unordered_map<std::string, Entry> map_;
  std::unordered_map<std::string, std::shared_future<Compiled>> compiling_;  // in flight, outside the LRU
};

}  // namespace rotor::server
