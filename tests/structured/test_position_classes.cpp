// tests/structured/test_position_classes.cpp — the classes of positions (automaton.h) that
// share precomputed masks: equal, at every horizon, to Moore's refinement done the plain way
// (every state's signature every round; the reference below) on fixed and random grammars,
// and the masks of every position of a set of grammars on the real Qwen3 vocabulary equal
// to digests recorded before the refinement was made incremental (one re-recorded since).
#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <random>

#include <fmt/format.h>

#include "structured/automaton.h"
#include "structured/ebnf.h"
#include "structured/json_schema.h"
#include "structured/regex.h"
#include "structured_test_util.h"

namespace rotor::structured {
namespace {

// Moore's refinement, every round over every live state: round 0 by (final, rule, has bytes,
// rules called), each further round by the class and the classes of the byte and call
// targets, for `horizon` rounds or until a round splits nothing; classes numbered densely in
// state order over the states with byte edges.
std::vector<int32_t> reference_classes(const Automaton& a, int horizon) {
  const size_t n = a.states.size();
  std::vector<int64_t> cls(n, -1);
  std::map<std::vector<int64_t>, int64_t> ids;
  auto intern = [&](const std::vector<int64_t>& sig) {
    return ids.emplace(sig, static_cast<int64_t>(ids.size())).first->second;
  };
  for (size_t s = 0; s < n; ++s) {
    const AutomatonState& st = a.states[s];
    if (!st.live) continue;
    std::vector<int64_t> sig{st.final, st.rule, st.bytes_end > st.bytes_begin};
    for (uint32_t i = st.calls_begin; i < st.calls_end; ++i) sig.push_back(a.call_edges[i].rule);
    cls[s] = intern(sig);
  }
  for (int round = 0; round < horizon; ++round) {
    const size_t before = ids.size();
    ids.clear();
    std::vector<int64_t> next(n, -1);
    for (size_t s = 0; s < n; ++s) {
      const AutomatonState& st = a.states[s];
      if (!st.live) continue;
      std::vector<int64_t> sig{cls[s]};
      for (uint32_t i = st.bytes_begin; i < st.bytes_end; ++i) {
        const ByteEdge& e = a.byte_edges[i];
        sig.insert(sig.end(), {e.lo, e.hi, cls[static_cast<size_t>(e.target)]});
      }
      sig.push_back(-1);
      for (uint32_t i = st.calls_begin; i < st.calls_end; ++i)
        sig.insert(sig.end(), {a.call_edges[i].rule, cls[static_cast<size_t>(a.call_edges[i].target)]});
      next[s] = intern(sig);
    }
    cls = std::move(next);
    if (ids.size() == before) break;
  }
  std::vector<int32_t> dense(n, -1);
  std::map<int64_t, int32_t> number;
  for (size_t s = 0; s < n; ++s)
    if (a.states[s].live && a.states[s].bytes_end > a.states[s].bytes_begin)
      dense[s] = number.emplace(cls[s], static_cast<int32_t>(number.size())).first->second;
  return dense;
}

void expect_reference_classes(const Grammar& g, const std::string& what) {
  for (int horizon : {0, 1, 2, 3, 5, 8, 17, 129}) {
    AutomatonLimits lim;
    lim.horizon = horizon;
    const Automaton a = Automaton::build(g, lim);
    ASSERT_EQ(a.state_class, reference_classes(a, horizon)) << what << ", horizon " << horizon;
  }
}

const char* kToolSchema = R"({"type": "object", "properties": {
  "location": {"type": "string"}, "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
  "days": {"type": "integer", "minimum": 1, "maximum": 16},
  "include": {"type": "array", "items": {"type": "string", "enum": ["wind", "rain", "uv"]}, "maxItems": 3},
  "note": {"type": ["string", "null"], "maxLength": 40}},
  "required": ["location", "unit"], "additionalProperties": false})";

std::vector<std::pair<std::string, std::function<Grammar()>>> fixed_grammars() {
  std::string props;
  for (int i = 0; i < 30; ++i) props += fmt::format("{}\"p{}\": {{\"type\": \"integer\"}}", i ? ", " : "", i);
  return {
      {"bounded repeat", [] { return regex_grammar("a{0,300}b"); }},
      {"repeated alternation", [] { return regex_grammar("(ab|a|b[0-9]){2,40}c?"); }},
      {"number", [] { return regex_grammar("-?[0-9]{1,40}(\\.[0-9]{0,20})?"); }},
      {"tool schema", [] { return json_schema_grammar(kToolSchema); }},
      {"long maxLength", [] { return json_schema_grammar(R"({"type": "string", "maxLength": 300})"); }},
      {"long const", [] { return json_schema_grammar(fmt::format(R"({{"const": "{}"}})", testing::repeated_text(3000))); }},
      {"enum", [] { return json_schema_grammar(R"({"enum": ["north", "north east", "north west", "south", "s"]})"); }},
      {"optional properties",
       [props] { return json_schema_grammar(fmt::format(R"({{"type": "object", "properties": {{{}}}}})", props)); }},
      {"recursion",
       [] { return parse_ebnf("root ::= list\nlist ::= \"[\" (item (\",\" item)*)? \"]\"\nitem ::= list | \"x\" | \"yy\""); }},
  };
}

// A random regex over a few bytes: concatenations, alternations, bounded and open repeats;
// with `rules`, an EBNF expression that may also call one of them.
std::string random_regex(std::mt19937& rng, int depth, const std::vector<std::string>& rules = {}) {
  const bool ebnf = !rules.empty();
  const int pick = static_cast<int>(rng() % (depth > 0 ? 8 : 4));
  switch (pick) {
    case 0: return ebnf ? "\"a\"" : "a";
    case 1: return ebnf ? "\"b\"" : "b";
    case 2: return "[a-c]";
    case 3: return ebnf ? rules[rng() % rules.size()] : "c";
    case 4: {
      std::string a = random_regex(rng, depth - 1, rules), b = random_regex(rng, depth - 1, rules);
      return fmt::format("{} {} {}", a, b, random_regex(rng, depth - 1, rules));
    }
    case 5: {
      std::string a = random_regex(rng, depth - 1, rules);
      return fmt::format("({} | {})", a, random_regex(rng, depth - 1, rules));
    }
    case 6: {
      const int lo = static_cast<int>(rng() % 4), hi = lo + static_cast<int>(rng() % 5);
      return fmt::format("({}){{{},{}}}", random_regex(rng, depth - 1, rules), lo, hi);
    }
    default: {
      const char* op = rng() % 2 ? "*" : "?";
      return fmt::format("({}){}", random_regex(rng, depth - 1, rules), op);
    }
  }
}

TEST(PositionClasses, EqualMooreRefinementOnFixedGrammars) {
  for (const auto& [name, make] : fixed_grammars()) expect_reference_classes(make(), name);
  // Positions after "c" and after "d" told apart only by where the calls a byte on return to.
  expect_reference_classes(parse_ebnf("root ::= \"c\" \"e\" x \"aaaaab\" | \"d\" \"e\" x \"aaaaac\"\nx ::= \"x\"*"),
                           "call targets");
}

TEST(PositionClasses, EqualMooreRefinementOnRandomRegexes) {
  std::mt19937 rng(11);
  for (int k = 0; k < 500; ++k) {
    const std::string re = random_regex(rng, 3);
    expect_reference_classes(regex_grammar(re), re);
  }
}

TEST(PositionClasses, EqualMooreRefinementOnRandomGrammarsWithCalls) {
  std::mt19937 rng(12);
  for (int k = 0; k < 300; ++k) {
    // Rule i calls only rules after it (no left recursion); the last one calls none.
    std::string text;
    for (int r = 0; r < 4; ++r) {
      std::vector<std::string> later{"\"x\""};
      for (int j = r + 1; j < 4; ++j) later.push_back(fmt::format("r{}", j));
      text += fmt::format("{} ::= {}\n", r == 0 ? "root" : fmt::format("r{}", r), random_regex(rng, 3, later));
    }
    expect_reference_classes(parse_ebnf(text), text);
  }
}

// FNV-1a over every position's masks (kind, ids, bits, suffixes and their tokens).
uint64_t masks_digest(const CompiledGrammar& g) {
  uint64_t h = 1469598103934665603ull;
  auto mix = [&](uint64_t x) { h = (h ^ x) * 1099511628211ull; };
  const Automaton& a = g.automaton();
  for (size_t s = 0; s < a.states.size(); ++s) {
    if (a.state_class[s] < 0) continue;
    const PositionMasks& m = g.masks_of_state(static_cast<int32_t>(s));
    mix(s);
    mix(static_cast<uint64_t>(m.kind));
    for (int32_t id : m.ids) mix(static_cast<uint64_t>(id));
    for (uint32_t w : m.bits) mix(w);
    for (size_t k = 0; k < m.suffixes.size(); ++k) {
      for (char c : m.suffixes[k]) mix(static_cast<uint8_t>(c));
      for (int32_t id : m.suffix_tokens[k]) mix(static_cast<uint64_t>(id));
    }
  }
  return h;
}

// "optional properties" re-recorded when a value written in two places became one rule
// (json_schema.cpp; its positions are numbered anew), with the JSON schema tests' brute-force
// masks and walks and the e2e structured-output tests passing.
// "tool schema" and "optional properties" re-recorded when an object's first member became a
// rule of its own (json_schema.cpp), with the same tests, test_engine_structured and the e2e
// structured-output tests passing.
TEST(PositionClasses, MasksEqualThoseBeforeIncrementalRefinement) {
  const std::map<std::string, uint64_t> recorded = {
      {"bounded repeat", 0x4d8aa62477dfee17ull},      {"repeated alternation", 0x20f8045842682e23ull},
      {"number", 0x7bba41635905ac46ull},              {"tool schema", 0x31db46dc02958374ull},
      {"long maxLength", 0x75f825aeaa7575feull},      {"long const", 0xa87b2d0508ccdaeaull},
      {"enum", 0x92608aa8d9f86236ull},                {"optional properties", 0x672343f476d7557aull},
      {"recursion", 0x4ce45f46137b968dull},
  };
  for (const auto& [name, make] : fixed_grammars()) {
    const auto g = CompiledGrammar::compile(make(), testing::qwen3_tokens());
    EXPECT_EQ(masks_digest(*g), recorded.at(name)) << name;
  }
}

}  // namespace
}  // namespace rotor::structured
