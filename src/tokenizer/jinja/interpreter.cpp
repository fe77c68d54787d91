// tokenizer/jinja/interpreter.cpp — rendering and statement execution: scopes, output, if,
// for (loop.*, filtered loops, break / continue), set, with, filter blocks, macro definitions
// and calls, and the step budget (expressions.cpp evaluates expressions).
#include "tokenizer/jinja/interpreter.h"

#include <algorithm>

#include "core/check.h"
#include "tokenizer/jinja/operators.h"
#include "tokenizer/one_line.h"

namespace rotor::jinja {
namespace {

constexpr int kMaxMacroDepth = 100;

}  // namespace

Value* Interpreter::Scope::find(const std::string& name) {
  for (Scope* s = this; s; s = s->parent)
    for (auto& kv : s->vars)
      if (kv.first == name) return &kv.second;
  return nullptr;
}

void Interpreter::Scope::set(const std::string& name, Value v) {
  for (auto& kv : vars)
    if (kv.first == name) {
      kv.second = std::move(v);
      return;
    }
  vars.emplace_back(name, std::move(v));
}

Interpreter::Interpreter(const Body& root, const Dict& variables) : root_(root) {
  globals_.parent = nullptr;
  for (const auto& kv : variables.items) globals_.set(kv.first, kv.second);
}

std::string Interpreter::render() {
  std::string out;
  try {
    exec(root_, globals_, out);
  } catch (const Error& e) {
    const std::string msg = e.what();
    if (msg.starts_with("chat template line ")) ROTOR_FAIL("{}", one_line(msg, kMaxMessageBytes));
    ROTOR_FAIL("chat template line {}: {}", line_, one_line(msg, kMaxMessageBytes));
  }
  return out;
}

void Interpreter::exec(const Body& body, Scope& scope, std::string& out) {
  for (const StmtPtr& s : body) {
    exec(*s, scope, out);
    if (flow_ != Flow::Normal) return;
  }
}

void Interpreter::exec(const Stmt& s, Scope& scope, std::string& out) {
  line_ = s.line;
  switch (s.kind) {
    case StmtKind::Data: out += s.text; break;
    case StmtKind::Output: out += eval(*s.expr, scope).str(); break;
    case StmtKind::If:
      if (eval(*s.expr, scope).truthy()) exec(s.body, scope, out);
      else exec(s.else_body, scope, out);
      return;
    case StmtKind::For: exec_for(s, scope, out); return;
    case StmtKind::Set: assign(*s.target, eval(*s.expr, scope), scope); return;
    case StmtKind::SetBlock: {
      std::string text;
      exec(s.body, scope, text);
      Value v(std::move(text));
      for (const ExprPtr& f : s.filters) {
        CallArgs args = eval_args(*f, 1, scope, "filter '" + f->name + "'");
        v = apply_filter(f->name, v, args);
      }
      line_ = s.line;
      assign(*s.target, std::move(v), scope);
      return;
    }
    case StmtKind::Macro: {
      const Stmt* m = &s;
      scope.set(s.name, Value::function(s.name, [this, m](CallArgs& args) { return call_macro(*m, args); }));
      return;
    }
    case StmtKind::Break: flow_ = Flow::Break; return;
    case StmtKind::Continue: flow_ = Flow::Continue; return;
    case StmtKind::FilterBlock: {
      std::string text;
      exec(s.body, scope, text);
      Value v(std::move(text));
      for (const ExprPtr& f : s.filters) {
        CallArgs args = eval_args(*f, 1, scope, "filter '" + f->name + "'");
        v = apply_filter(f->name, v, args);
      }
      out += v.str();
      return;
    }
    case StmtKind::With: {
      Scope inner{{}, &scope};
      for (const auto& [target, value] : s.assigns) assign(*target, eval(*value, scope), inner);
      exec(s.body, inner, out);
      return;
    }
    case StmtKind::Scope: exec(s.body, scope, out); return;
  }
  check_string_size(out.size());
}

void Interpreter::exec_for(const Stmt& s, Scope& scope, std::string& out) {
  const Value iterable = eval(*s.expr, scope);
  std::vector<Value> items = iterate(iterable);
  if (s.cond) {  // `for x in xs if cond`: filter first, so loop.* counts the kept items
    std::vector<Value> kept;
    for (Value& item : items) {
      count_step();
      Scope probe{{}, &scope};
      assign(*s.target, item, probe);
      if (eval(*s.cond, probe).truthy()) kept.push_back(std::move(item));
    }
    items = std::move(kept);
  }
  const auto n = static_cast<int64_t>(items.size());
  for (int64_t i = 0; i < n; ++i) {
    if (!s.cond) count_step();  // a filtered loop counted its items when it tested them
    Scope iter{{}, &scope};
    Dict loop;
    loop.set("index", Value(i + 1));
    loop.set("index0", Value(i));
    loop.set("revindex", Value(n - i));
    loop.set("revindex0", Value(n - i - 1));
    loop.set("first", Value(i == 0));
    loop.set("last", Value(i == n - 1));
    loop.set("length", Value(n));
    loop.set("depth", Value(int64_t{1}));
    loop.set("depth0", Value(int64_t{0}));
    loop.set("previtem", i > 0 ? items[static_cast<size_t>(i - 1)] : Value::undefined("there is no previous item"));
    loop.set("nextitem", i + 1 < n ? items[static_cast<size_t>(i + 1)] : Value::undefined("there is no next item"));
    loop.set("cycle", Value::function("loop.cycle", [i](CallArgs& a) {
               ROTOR_CHECK(!a.args.empty(), "no items for cycling given");
               return a.args[static_cast<size_t>(i) % a.args.size()];
             }));
    iter.set("loop", Value::dict(std::move(loop)));
    assign(*s.target, items[static_cast<size_t>(i)], iter);
    exec(s.body, iter, out);
    if (flow_ == Flow::Break) {
      flow_ = Flow::Normal;
      break;
    }
    flow_ = Flow::Normal;
  }
  if (n == 0) exec(s.else_body, scope, out);
}

void Interpreter::assign(const Expr& target, Value v, Scope& scope) {
  if (target.kind == ExprKind::Name) {
    scope.set(target.name, std::move(v));
  } else if (target.kind == ExprKind::Tuple) {
    const std::vector<Value> items = iterate(v);
    ROTOR_CHECK(items.size() == target.children.size(), "cannot unpack {} values into {} names", items.size(),
                target.children.size());
    for (size_t i = 0; i < items.size(); ++i) assign(*target.children[i], items[i], scope);
  } else {  // ns.attr
    const Value obj = eval(*target.children[0], scope);
    ROTOR_CHECK(obj.is_namespace(), "cannot assign attribute on non-namespace object");
    ROTOR_CHECK(!v.holds_namespace(), "a namespace cannot hold a namespace");
    obj.mutable_dict().set(target.name, std::move(v));
  }
}

Value Interpreter::call_macro(const Stmt& m, CallArgs& args) {
  ROTOR_CHECK(++depth_ <= kMaxMacroDepth, "macro '{}' recursed more than {} levels", m.name, kMaxMacroDepth);
  count_step();
  ROTOR_CHECK(args.args.size() <= m.params.size(), "macro '{}' takes {} arguments ({} given)", m.name, m.params.size(),
              args.args.size());
  Scope scope{{}, &globals_};
  for (const auto& [k, v] : args.kwargs) {
    bool known = false;
    for (const auto& p : m.params) known = known || p.first == k;
    ROTOR_CHECK(known, "macro '{}' got an unexpected keyword argument '{}'", m.name, k);
  }
  for (size_t i = 0; i < m.params.size(); ++i) {
    const auto& [name, def] = m.params[i];
    if (i < args.args.size()) {
      scope.set(name, args.args[i]);
      continue;
    }
    const auto kw = std::find_if(args.kwargs.begin(), args.kwargs.end(), [&](const auto& kv) { return kv.first == name; });
    if (kw != args.kwargs.end()) scope.set(name, kw->second);
    else if (def) scope.set(name, eval(*def, scope));
    else scope.set(name, Value::undefined("'" + name + "' is undefined"));
  }
  std::string out;
  const int saved_line = line_;
  const Flow saved_flow = flow_;
  exec(m.body, scope, out);
  flow_ = saved_flow;
  line_ = saved_line;
  --depth_;
  return Value(std::move(out));
}

void Interpreter::count_step() {
  ROTOR_CHECK(++steps_ <= kMaxSteps, "more than {} loop iterations and macro calls", kMaxSteps);
}

}  // namespace rotor::jinja
