// structured/grammar.cpp — expression builders, range normalisation, rule naming, printing.
#include "structured/grammar.h"

#include <algorithm>

#include <fmt/format.h>

namespace rotor::structured {
namespace {

constexpr uint32_t kMaxCodePoint = 0x10FFFF;

void append_escaped(std::string& out, uint32_t c, bool in_class) {
  if (c == '"' && !in_class) out += "\\\"";
  else if (c == '\\') out += "\\\\";
  else if (in_class && (c == ']' || c == '-' || c == '^')) out += fmt::format("\\{}", static_cast<char>(c));
  else if (c == '\n') out += "\\n";
  else if (c == '\t') out += "\\t";
  else if (c == '\r') out += "\\r";
  else if (c < 0x20 || c == 0x7F) out += fmt::format("\\x{:02X}", c);
  else if (c < 0x80) out += static_cast<char>(c);
  else if (c > 0xFFFF) out += fmt::format("\\U{:08X}", c);
  else out += fmt::format("\\u{:04X}", c);
}

void print(const Expr& e, const Grammar& g, std::string& out) {
  switch (e.kind) {
    case Expr::Kind::Empty:
      out += "\"\"";
      return;
    case Expr::Kind::Bytes:
      out += '"';
      for (unsigned char c : e.bytes)
        if (c >= 0x80) out += fmt::format("\\x{:02X}", c);
        else append_escaped(out, c, false);
      out += '"';
      return;
    case Expr::Kind::CharClass:
    case Expr::Kind::ByteClass:
      out += e.kind == Expr::Kind::ByteClass ? "b[" : "[";
      for (const Range& r : e.ranges) {
        append_escaped(out, r.lo, true);
        if (r.hi != r.lo) {
          out += '-';
          append_escaped(out, r.hi, true);
        }
      }
      out += ']';
      return;
    case Expr::Kind::Seq:
    case Expr::Kind::Alt:
      out += '(';
      for (size_t i = 0; i < e.children.size(); ++i) {
        if (i) out += e.kind == Expr::Kind::Alt ? " | " : " ";
        print(e.children[i], g, out);
      }
      out += ')';
      return;
    case Expr::Kind::Repeat:
      print(e.children[0], g, out);
      out += e.max < 0 ? fmt::format("{{{},}}", e.min) : fmt::format("{{{},{}}}", e.min, e.max);
      return;
    case Expr::Kind::RuleRef:
      out += g.rules[e.rule].name;
      return;
  }
}

}  // namespace

Expr empty() { return Expr{}; }

Expr lit(std::string_view bytes) {
  if (bytes.empty()) return empty();
  Expr e;
  e.kind = Expr::Kind::Bytes;
  e.bytes = bytes;
  return e;
}

std::vector<Range> normalize_ranges(std::vector<Range> r, bool negated) {
  std::sort(r.begin(), r.end(), [](const Range& a, const Range& b) { return a.lo < b.lo; });
  std::vector<Range> merged;
  for (const Range& x : r) {
    if (x.lo > x.hi) continue;
    if (!merged.empty() && x.lo <= merged.back().hi + 1) merged.back().hi = std::max(merged.back().hi, x.hi);
    else merged.push_back(x);
  }
  if (!negated) return merged;
  std::vector<Range> out;
  uint32_t next = 0;
  for (const Range& x : merged) {
    if (x.lo > next) out.push_back({next, x.lo - 1});
    next = x.hi + 1;
  }
  if (next <= kMaxCodePoint) out.push_back({next, kMaxCodePoint});
  return out;
}

Expr chars(std::vector<Range> ranges, bool negated) {
  Expr e;
  e.kind = Expr::Kind::CharClass;
  e.ranges = normalize_ranges(std::move(ranges), negated);
  return e;
}

Expr bytes_class(std::vector<Range> ranges) {
  Expr e;
  e.kind = Expr::Kind::ByteClass;
  for (Range& r : ranges) r.hi = std::min<uint32_t>(r.hi, 0xFF);
  e.ranges = normalize_ranges(std::move(ranges));
  return e;
}

Expr seq(std::vector<Expr> parts) {
  Expr e;
  e.kind = Expr::Kind::Seq;
  for (Expr& p : parts) {
    if (p.kind == Expr::Kind::Empty) continue;
    if (p.kind == Expr::Kind::Seq) {
      for (Expr& c : p.children) e.children.push_back(std::move(c));
    } else if (p.kind == Expr::Kind::Bytes && !e.children.empty() && e.children.back().kind == Expr::Kind::Bytes) {
      e.children.back().bytes += p.bytes;
    } else {
      e.children.push_back(std::move(p));
    }
  }
  if (e.children.empty()) return empty();
  if (e.children.size() == 1) return std::move(e.children[0]);
  return e;
}

Expr alt(std::vector<Expr> options) {
  Expr e;
  e.kind = Expr::Kind::Alt;
  for (Expr& o : options) {
    if (o.kind == Expr::Kind::Alt) {
      for (Expr& c : o.children) e.children.push_back(std::move(c));
    } else {
      e.children.push_back(std::move(o));
    }
  }
  if (e.children.size() == 1) return std::move(e.children[0]);
  return e;
}

Expr repeat(Expr inner, int min, int max) {
  if (max == 0 || inner.kind == Expr::Kind::Empty) return empty();
  if (min == 1 && max == 1) return inner;
  Expr e;
  e.kind = Expr::Kind::Repeat;
  e.min = min;
  e.max = max;
  e.children.push_back(std::move(inner));
  return e;
}

Expr ref(int rule) {
  Expr e;
  e.kind = Expr::Kind::RuleRef;
  e.rule = rule;
  return e;
}

int Grammar::find(std::string_view name) const {
  const auto it = ids.find(std::string(name));
  return it == ids.end() ? -1 : it->second;
}

int Grammar::rule_id(std::string_view name) {
  if (int i = find(name); i >= 0) return i;
  rules.push_back({std::string(name), empty()});
  return ids[rules.back().name] = static_cast<int>(rules.size()) - 1;
}

int Grammar::add_rule(std::string_view hint, Expr body) {
  // hint, else hint-k for the least k free (rules are never removed: k only grows).
  std::string name(hint);
  if (find(name) >= 0) {
    int& k = last_suffix[name];
    do name = fmt::format("{}-{}", hint, ++k);
    while (find(name) >= 0);
  }
  rules.push_back({name, std::move(body)});
  return ids[name] = static_cast<int>(rules.size()) - 1;
}

std::string Grammar::to_string() const {
  std::string out;
  auto rule = [&](size_t i) {
    out += rules[i].name;
    out += " ::= ";
    print(rules[i].body, *this, out);
    out += '\n';
  };
  if (root >= 0) rule(static_cast<size_t>(root));
  for (size_t i = 0; i < rules.size(); ++i)
    if (static_cast<int>(i) != root) rule(i);
  return out;
}

Grammar choice_grammar(const std::vector<std::string>& choices) {
  std::vector<Expr> opts;
  for (const std::string& c : choices) opts.push_back(lit(c));
  Grammar g;
  g.root = g.add_rule("root", alt(std::move(opts)));
  return g;
}

}  // namespace rotor::structured
