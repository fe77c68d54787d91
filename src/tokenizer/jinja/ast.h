// tokenizer/jinja/ast.h — the syntax tree of a parsed template: statements (text, output, if,
// for, set, macro, ...) and expressions, each with the template line it came from.
#pragma once
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "tokenizer/jinja/value.h"

namespace rotor::jinja {

struct Expr;
struct Stmt;
using ExprPtr = std::unique_ptr<Expr>;
using StmtPtr = std::unique_ptr<Stmt>;
using Body = std::vector<StmtPtr>;

enum class ExprKind {
  Const,    // value
  Name,     // name
  List,     // children: items
  Tuple,    // children: items
  Dict,     // children: key0, value0, key1, value1, ...
  Attr,     // children: [object]; name: attribute
  Item,     // children: [object, index]
  Slice,    // children: [object, start, stop, step] (null where omitted)
  Call,     // children: [callee, positional...]; kwargs
  Filter,   // children: [operand (null in {% filter %} / {% set %} blocks), positional...]; name; kwargs
  Test,     // children: [operand, positional...]; name; kwargs
  Neg,      // children: [x]
  Pos,      // children: [x]
  Binary,   // children: [left, right]; name: + - * / // % **
  Concat,   // children: items joined with ~
  Compare,  // children: [first, rest...]; ops: == != < > <= >= in notin
  And,      // children: [left, right]
  Or,       // children: [left, right]
  Not,      // children: [x]
  Cond,     // children: [then, test, else (null: undefined)]
};

struct Expr {
  ExprKind kind;
  int line;
  Value value;
  std::string name;
  std::vector<ExprPtr> children;
  std::vector<std::string> ops;
  std::vector<std::pair<std::string, ExprPtr>> kwargs;
};

enum class StmtKind {
  Data,         // text
  Output,       // expr
  If,           // expr: test; body; else_body (an elif is a nested If)
  For,          // target, expr: iterable, cond: inline filter (or null); body; else_body
  Set,          // target, expr
  SetBlock,     // target; body; filters
  Macro,        // name, params; body
  Break,
  Continue,
  FilterBlock,  // filters; body
  With,         // assigns; body
  Scope,        // body (a block that only groups, e.g. {% generation %})
};

struct Stmt {
  StmtKind kind;
  int line;
  std::string text;
  ExprPtr expr, target, cond;
  Body body, else_body;
  std::string name;
  std::vector<std::pair<std::string, ExprPtr>> params;  // macro parameters and their defaults (or null)
  std::vector<ExprPtr> filters;                        // Filter exprs with a null operand, applied in order
  std::vector<std::pair<ExprPtr, ExprPtr>> assigns;    // {% with a = x %}
};

}  // namespace rotor::jinja
