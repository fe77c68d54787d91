// tokenizer/jinja/interpreter.h — renders a parsed template: scopes (a for-loop iteration, a
// macro call and a with block each get their own, as in Jinja2), loop.* variables,
// break/continue, macros, namespaces, and Jinja2's undefined-value rules (printing or testing
// an undefined value is fine; taking its attribute or calling it raises).
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "tokenizer/jinja/ast.h"

namespace rotor::jinja {

// Loop iterations and macro calls one render may make (about 1 µs each): the 8 MiB a request
// body may have holds about 300 000 messages, which the Qwen3 template loops over twice; a
// runaway template (nested ranges, a macro calling itself twice) stops within seconds.
inline constexpr int64_t kMaxSteps = 2'000'000;

class Interpreter {
 public:
  // The template's variables (messages, tools, add_generation_prompt, ...).
  Interpreter(const Body& root, const Dict& variables);
  // Raises rotor::Error ("chat template line N: ...") on any error, raise_exception included,
  // and past the limits: kMaxSteps, kMaxNesting, kMaxStringBytes, kMaxListItems (value.h).
  std::string render();

  // For filters and tests that take another filter / test or call a value.
  Value call_value(const Value& fn, CallArgs& args, int line);
  Value apply_filter(const std::string& name, const Value& operand, CallArgs& args);
  bool apply_test(const std::string& name, const Value& operand, CallArgs& args);
  // Python's getattr-then-getitem lookup as Jinja's environment does it.
  Value get_attr(const Value& obj, const std::string& name);

 private:
  struct Scope {
    std::vector<std::pair<std::string, Value>> vars;
    Scope* parent;
    Value* find(const std::string& name);
    void set(const std::string& name, Value v);
  };
  enum class Flow { Normal, Break, Continue };

  void exec(const Body& body, Scope& scope, std::string& out);
  void exec(const Stmt& s, Scope& scope, std::string& out);
  void exec_for(const Stmt& s, Scope& scope, std::string& out);
  void assign(const Expr& target, Value v, Scope& scope);
  Value eval(const Expr& e, Scope& scope);
  Value eval_call(const Expr& e, Scope& scope);
  CallArgs eval_args(const Expr& e, size_t first, Scope& scope, std::string what);
  Value call_macro(const Stmt& m, CallArgs& args);
  Value get_item(const Value& obj, const Value& key);
  void count_step();  // raises past kMaxSteps

  const Body& root_;
  Scope globals_;
  int line_ = 0;  // line of the construct being evaluated, for error messages
  Flow flow_ = Flow::Normal;
  int depth_ = 0;  // macro recursion depth
  int64_t steps_ = 0;  // loop iterations and macro calls so far
};

}  // namespace rotor::jinja
