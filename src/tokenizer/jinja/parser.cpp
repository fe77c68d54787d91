// tokenizer/jinja/parser.cpp — the statements of a template ({% if %}, for, set, macro, filter,
// with, generation, break / continue) over ExprParser's expressions, and the load-time checks
// of tags and of the functions a template calls.
#include "tokenizer/jinja/parser.h"

#include <set>

#include "core/check.h"
#include "tokenizer/jinja/builtins.h"
#include "tokenizer/jinja/expression_parser.h"
#include "tokenizer/jinja/lexer.h"
#include "tokenizer/one_line.h"

namespace rotor::jinja {
namespace {

class Parser : public ExprParser {
 public:
  using ExprParser::ExprParser;

  Body run() {
    Body body = subparse({});
    if (cur().type != TokenType::Eof) fail(cur().line, "unexpected '{% " + cur().value + " %}'");
    for (const auto& [name, line] : called_)
      if (!macros_.count(name) && !is_global_function(name))
        fail(line, "unsupported function '" + name + "()' (not a macro of this template or a known global)");
    return body;
  }

 private:
  // Statements until a {% name %} with name in `ends` (left unconsumed: cur() is that name).
  Body subparse(const std::set<std::string>& ends) {
    Nesting nest(*this);
    nest.deeper();
    Body body;
    for (;;) {
      const Token& t = cur();
      if (t.type == TokenType::Eof) {
        if (!ends.empty()) fail(t.line, "missing {% " + *ends.rbegin() + " %} (end of template reached)");
        return body;
      }
      if (t.type == TokenType::Data) {
        auto s = std::make_unique<Stmt>();
        s->kind = StmtKind::Data;
        s->line = t.line;
        s->text = t.value;
        body.push_back(std::move(s));
        next();
      } else if (t.type == TokenType::VarBegin) {
        auto s = std::make_unique<Stmt>();
        s->kind = StmtKind::Output;
        s->line = t.line;
        next();
        s->expr = parse_tuple(true, {});
        if (cur().type != TokenType::VarEnd) fail(cur().line, "expected '}}', got " + describe(cur()));
        next();
        body.push_back(std::move(s));
      } else if (t.type == TokenType::BlockBegin) {
        next();
        if (cur().type == TokenType::Name && ends.count(cur().value)) return body;
        body.push_back(statement());
      } else {
        fail(t.line, "unexpected " + describe(t));
      }
    }
  }

  StmtPtr statement() {
    const Token& t = cur();
    if (t.type != TokenType::Name) fail(t.line, "expected a tag name, got " + describe(t));
    const std::string tag = t.value;
    const int line = t.line;
    auto s = std::make_unique<Stmt>();
    s->line = line;
    next();
    if (tag == "if") return parse_if(std::move(s));
    if (tag == "for") return parse_for(std::move(s));
    if (tag == "set") return parse_set(std::move(s));
    if (tag == "macro") return parse_macro(std::move(s));
    if (tag == "break" || tag == "continue") {
      if (loop_depth_ == 0) fail(line, "'{% " + tag + " %}' outside a for loop");
      s->kind = tag == "break" ? StmtKind::Break : StmtKind::Continue;
      expect_block_end();
      return s;
    }
    if (tag == "filter") {
      s->kind = StmtKind::FilterBlock;
      s->filters = parse_filter_chain();
      expect_block_end();
      s->body = subparse({"endfilter"});
      next();
      expect_block_end();
      return s;
    }
    if (tag == "with") {
      s->kind = StmtKind::With;
      while (cur().type != TokenType::BlockEnd) {
        if (!s->assigns.empty()) expect_op(",");
        ExprPtr target = assign_target();
        expect_op("=");
        s->assigns.emplace_back(std::move(target), parse_expression(true));
      }
      expect_block_end();
      s->body = subparse({"endwith"});
      next();
      expect_block_end();
      return s;
    }
    if (tag == "generation") {  // transformers' AssistantTracker: marks assistant text, renders it as is
      s->kind = StmtKind::Scope;
      expect_block_end();
      s->body = subparse({"endgeneration"});
      next();
      expect_block_end();
      return s;
    }
    if (tag.starts_with("end") || tag == "elif" || tag == "else") fail(line, "unexpected '{% " + tag + " %}'");
    static const std::set<std::string> unsupported = {"call",  "include", "import", "from", "extends",
                                                      "block", "autoescape", "do", "trans", "raw"};
    if (unsupported.count(tag)) fail(line, "unsupported tag '{% " + tag + " %}'");
    fail(line, "unknown tag '{% " + tag + " %}'");
  }

  StmtPtr parse_if(StmtPtr s) {
    s->kind = StmtKind::If;
    s->expr = parse_tuple(false, {});
    expect_block_end();
    s->body = subparse({"elif", "else", "endif"});
    if (is_name("elif")) {
      auto e = std::make_unique<Stmt>();
      e->line = cur().line;
      next();
      s->else_body.push_back(parse_if(std::move(e)));
      return s;
    }
    if (skip_name("else")) {
      expect_block_end();
      s->else_body = subparse({"endif"});
    }
    next();  // endif
    expect_block_end();
    return s;
  }

  StmtPtr parse_for(StmtPtr s) {
    s->kind = StmtKind::For;
    s->target = assign_target(true, {"in"});
    if (!skip_name("in")) fail(cur().line, "expected 'in' in for loop, got " + describe(cur()));
    s->expr = parse_tuple(false, {"recursive", "if"});
    if (skip_name("if")) s->cond = parse_expression(true);
    if (is_name("recursive")) fail(cur().line, "unsupported: recursive for loops");
    expect_block_end();
    ++loop_depth_;
    s->body = subparse({"endfor", "else"});
    --loop_depth_;
    if (skip_name("else")) {
      expect_block_end();
      s->else_body = subparse({"endfor"});
    }
    next();  // endfor
    expect_block_end();
    return s;
  }

  StmtPtr parse_set(StmtPtr s) {
    s->target = assign_target(true, {}, true);
    if (skip_op("=")) {
      s->kind = StmtKind::Set;
      s->expr = parse_tuple(true, {});
      expect_block_end();
      return s;
    }
    s->kind = StmtKind::SetBlock;
    if (is_op("|")) s->filters = parse_filter_chain();
    expect_block_end();
    s->body = subparse({"endset"});
    next();
    expect_block_end();
    return s;
  }

  StmtPtr parse_macro(StmtPtr s) {
    s->kind = StmtKind::Macro;
    s->name = expect_name();
    macros_.insert(s->name);
    expect_op("(");
    while (!is_op(")")) {
      if (!s->params.empty()) expect_op(",");
      std::string p = expect_name();
      ExprPtr def;
      if (skip_op("=")) def = parse_expression(true);
      s->params.emplace_back(std::move(p), std::move(def));
    }
    next();
    expect_block_end();
    const int saved = loop_depth_;
    loop_depth_ = 0;
    s->body = subparse({"endmacro"});
    loop_depth_ = saved;
    next();
    if (cur().type == TokenType::Name) next();  // {% endmacro name %}
    expect_block_end();
    return s;
  }

  // A name, a tuple of names, or (for set) a namespace attribute ns.attr.
  ExprPtr assign_target(bool with_tuple = true, std::set<std::string> ends = {}, bool with_namespace = false) {
    const int line = cur().line;
    if (with_namespace && cur().type == TokenType::Name && peek().type == TokenType::Op && peek().value == "." &&
        peek(2).type == TokenType::Name) {
      auto obj = node(ExprKind::Name, line);
      obj->name = cur().value;
      next();
      next();
      auto e = node(ExprKind::Attr, line);
      e->name = cur().value;
      next();
      e->children.push_back(std::move(obj));
      return e;
    }
    std::vector<ExprPtr> names;
    bool tuple = false;
    for (;;) {
      if (!names.empty()) {
        if (!skip_op(",")) break;
        tuple = true;
      }
      if (cur().type != TokenType::Name || ends.count(cur().value)) {
        if (names.empty()) fail(line, "expected a name to assign to, got " + describe(cur()));
        break;
      }
      auto n = node(ExprKind::Name, cur().line);
      n->name = cur().value;
      if (n->name == "true" || n->name == "false" || n->name == "none" || n->name == "True" || n->name == "False" ||
          n->name == "None")
        fail(line, "cannot assign to '" + n->name + "'");
      next();
      names.push_back(std::move(n));
      if (!with_tuple) break;
    }
    if (!tuple) return std::move(names[0]);
    auto t = node(ExprKind::Tuple, line);
    t->children = std::move(names);
    return t;
  }

  int loop_depth_ = 0;
  std::set<std::string> macros_;
};

}  // namespace

Body parse(std::string_view source) {
  try {
    return Parser(lex(source)).run();
  } catch (const Error& e) {
    ROTOR_FAIL("{}", one_line(e.what(), kMaxMessageBytes));
  }
}

}  // namespace rotor::jinja
