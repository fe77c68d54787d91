// tests/structured/test_grammar.cpp — EBNF and regex grammars on the real Qwen3 vocabulary:
// strings in and out of the language, the precomputed + context-dependent mask equal to the
// brute-force mask (every token tried) along random walks, walks that end in the language
// (checked by std::regex for regexes), rollback, and clear errors; the token table's skip
// past a prefix; the masks a compile
// computes (nearest the start first) and those computed on first use from several threads.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <functional>
#include <numeric>
#include <regex>
#include <thread>

#include <fmt/format.h>

#include "core/error.h"
#include "structured/ebnf.h"
#include "structured/regex.h"
#include "structured_test_util.h"

namespace rotor::structured {
namespace {

using namespace testing;

std::shared_ptr<const CompiledGrammar> compile(const Grammar& g) { return CompiledGrammar::compile(g, qwen3_tokens()); }

bool accepts(const std::shared_ptr<const CompiledGrammar>& g, std::string_view text) {
  GrammarMatcher m(g);
  return m.accept_bytes(text) && m.can_end();
}

// The message of the Error `f` raises ("" when it raises none).
std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return {};
}

TEST(Ebnf, ParsesAndMatches) {
  const auto g = compile(parse_ebnf(R"(
    # a tiny key-value list
    root ::= "{" pair ("," pair)* "}"
    pair ::= key ":" value
    key  ::= [a-z]+
    value ::= "true" | "false" | [0-9]{1,3} | "\"" [^"\\]* "\""
  )"));
  EXPECT_TRUE(accepts(g, "{a:true}"));
  EXPECT_TRUE(accepts(g, "{ab:12,c:\"x y\"}"));
  EXPECT_FALSE(accepts(g, "{a:1234}"));
  EXPECT_FALSE(accepts(g, "{A:1}"));
  EXPECT_FALSE(accepts(g, "{a:1"));
  GrammarMatcher m(g);
  EXPECT_FALSE(m.accept_bytes("}"));
  EXPECT_EQ(m.num_accepted(), 0);
}

TEST(Ebnf, MaskEqualsBruteForce) {
  const auto g = compile(parse_ebnf(R"(
    root ::= "{" ws "\"name\"" ws ":" ws string ws "," ws "\"n\"" ws ":" ws num ws "}"
    string ::= "\"" ( [^"\\] | "\\" ["\\/bfnrt] )* "\""
    num ::= "-"? ("0" | [1-9] [0-9]*) ("." [0-9]+)?
    ws ::= [ \n]*
  )"));
  check_masks(g, 1, 12);
  check_masks(g, 2, 12);
}

TEST(Ebnf, RecursionMaskAndWalk) {
  // Nested lists: the stack grows with depth; masks depend on what is below the top.
  const auto g = compile(parse_ebnf(R"(
    root ::= list
    list ::= "[" (item ("," item)*)? "]"
    item ::= list | "x" | "yy"
  )"));
  EXPECT_TRUE(accepts(g, "[[x,[yy]],[]]"));
  EXPECT_FALSE(accepts(g, "[[x,[yy]],[]"));
  check_masks(g, 3, 20);
  std::mt19937 rng(4);
  for (const std::string& text : ended_walks(g, rng, 20, 200)) EXPECT_TRUE(accepts(g, text)) << text;
}

TEST(Ebnf, Errors) {
  auto msg = [](std::string_view text) { return error_of([&] { compile(parse_ebnf(text)); }); };
  EXPECT_NE(msg("root ::= a\na ::= a \"x\" | \"y\"").find("left-recursive"), std::string::npos);
  EXPECT_NE(msg("root ::= b").find("'b' is used but not defined"), std::string::npos);
  EXPECT_NE(msg("start ::= \"x\"").find("no 'root' rule"), std::string::npos);
  EXPECT_NE(msg("root ::= \"x\" (").find("line 1"), std::string::npos);
  EXPECT_NE(msg("root ::= \"x\" root").find("matches no string"), std::string::npos);
}

// Groups a few hundred thousand deep, or as many repetition operators on one primary, overflowed
// the parser's (and the automaton builder's) stack.
TEST(Ebnf, DeepNestingIsRefused) {
  auto nested = [](size_t n) { return "root ::= " + std::string(n, '(') + "\"a\"" + std::string(n, ')'); };
  EXPECT_TRUE(accepts(compile(parse_ebnf(nested(256))), "a"));
  EXPECT_NE(error_of([&] { parse_ebnf(nested(300000)); }).find("groups nested deeper than 256"), std::string::npos);
  EXPECT_NE(error_of([&] { parse_ebnf("root ::= \"a\"" + std::string(300000, '*')); }).find("after another"),
            std::string::npos);
  for (const char* text : {"root ::= \"a\"*?", "root ::= \"a\"{2}*", "root ::= (\"a\"+)+*"})
    EXPECT_NE(error_of([&] { parse_ebnf(text); }).find("after another"), std::string::npos) << text;
  EXPECT_TRUE(accepts(compile(parse_ebnf("root ::= (\"a\"+)* \"b\"{2}")), "aaabb"));
}

// Chains of thousands of rules, or of nullable calls, took a sweep over every state per link
// (and a search through the rule names per rule): minutes for a request's grammar.
TEST(Ebnf, LongChainsCompileQuickly) {
  constexpr int kRules = 20000;
  std::string forward = "root ::= r0\n", backward = "root ::= r0\n";
  for (int i = 0; i < kRules; ++i) {
    forward += fmt::format("r{} ::= \"a\" r{}\n", i, i + 1);
    backward += fmt::format("r{} ::= r{} \"a\"\n", i, i + 1);
  }
  forward += fmt::format("r{} ::= \"b\"\n", kRules);
  backward += fmt::format("r{} ::= \"b\"\n", kRules);
  std::string nullable_calls = "root ::=";
  for (int i = 0; i < kRules; ++i) nullable_calls += " x";
  nullable_calls += " \"b\"\nx ::= \"a\"?\n";
  const auto start = std::chrono::steady_clock::now();
  const auto f = compile(parse_ebnf(forward)), b = compile(parse_ebnf(backward)), n = compile(parse_ebnf(nullable_calls));
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), 20.0);
  GrammarMatcher forward_matcher(f), backward_matcher(b);
  EXPECT_TRUE(forward_matcher.accept_bytes("aaa") && !forward_matcher.can_end());
  EXPECT_TRUE(backward_matcher.accept_bytes("ba") && !backward_matcher.can_end());
  EXPECT_TRUE(accepts(n, "aaab"));
  EXPECT_FALSE(accepts(n, "aaa"));
}

// \xHH, \uHHHH and \UHHHHHHHH; a bad digit is named where it stands.
TEST(Ebnf, HexEscapes) {
  const auto g = compile(parse_ebnf(R"(root ::= "\x41\u00e9\U0001F600" [\x30-\x39])"));
  EXPECT_TRUE(accepts(g, "A\u00e9\U0001F6007"));
  EXPECT_FALSE(accepts(g, "A\u00e9\U0001F600a"));
  auto msg = [](std::string_view text) { return error_of([&] { parse_ebnf(text); }); };
  EXPECT_EQ(msg(R"(root ::= "\xZ1")"), "grammar: bad hex escape at line 1, column 13");
  EXPECT_EQ(msg("root ::= \"a\"\nb ::= \"\\u12G4\""), "grammar: bad hex escape at line 2, column 12");
  EXPECT_EQ(msg(R"(root ::= "\x4)"), "grammar: bad hex escape at line 1, column 14");
}

// Grammar text that is not UTF-8 is an error naming where: a stray continuation byte, a
// character cut short by the end, ill-formed sequences; well-formed characters decode.
TEST(Ebnf, InvalidUtf8) {
  auto msg = [](std::string_view text) { return error_of([&] { parse_ebnf(text); }); };
  EXPECT_EQ(msg("root ::= \"a\x80\""), "grammar: invalid UTF-8 at line 1, column 13");
  EXPECT_EQ(msg("root ::= [a-\xBF]"), "grammar: invalid UTF-8 at line 1, column 14");
  EXPECT_EQ(msg("root ::= \"\xE2\x82"), "grammar: invalid UTF-8 at line 1, column 12");
  // Ill-formed but shaped like a character: a bad continuation byte, a surrogate, an overlong form.
  EXPECT_EQ(msg("root ::= \"\xC3" "A\""), "grammar: invalid UTF-8 at line 1, column 12");
  EXPECT_EQ(msg("root ::= \"\xED\xA0\x80\""), "grammar: invalid UTF-8 at line 1, column 12");
  EXPECT_EQ(msg("root ::= [\xC0\x80-z]"), "grammar: invalid UTF-8 at line 1, column 12");
  const auto g = compile(parse_ebnf("root ::= \"\xE2\x82\xAC\" [\xC3\xA0-\xC3\xBF]"));  // "€" [à-ÿ]
  EXPECT_TRUE(accepts(g, "\u20AC\u00E9"));
  EXPECT_FALSE(accepts(g, "\u20AC\u00C9"));
}

TEST(Regex, MatchesLikeStdRegex) {
  for (const char* pattern : {"[a-z]{2,5}@[a-z]+\\.(com|org)", "\\d{3}-\\d{4}", "(ab|cd)*e?", "-?\\d+(\\.\\d{1,2})?",
                              "[A-Z][a-z]*( [A-Z][a-z]*){0,2}", "\\w+[ \\t]\\w+"}) {
    const auto g = compile(regex_grammar(pattern));
    const std::regex re(pattern);
    std::mt19937 rng(5);
    const std::vector<std::string> texts = ended_walks(g, rng, 25, 64);
    for (const std::string& text : texts) EXPECT_TRUE(std::regex_match(text, re)) << pattern << ": '" << text << "'";
    EXPECT_GT(texts.size(), 10u) << pattern;
  }
}

TEST(Regex, MaskEqualsBruteForce) {
  check_masks(compile(regex_grammar("(\\d+|[a-f]{2})(,\\s?(\\d+|[a-f]{2}))*")), 6, 8);
  check_masks(compile(regex_grammar("Hello, [^\\n]{0,20}!")), 7, 8);
}

// \xHH, \uHHHH and \u{H...}; a bad digit is named at its offset.
TEST(Regex, HexEscapes) {
  const auto g = compile(regex_grammar("\\x41\\u00e9\\u{1F600}[\\x30-\\x39]"));
  EXPECT_TRUE(accepts(g, "A\u00e9\U0001F6007"));
  EXPECT_FALSE(accepts(g, "A\u00e9\U0001F600a"));
  auto msg = [](std::string_view pattern) { return error_of([&] { regex_grammar(pattern); }); };
  EXPECT_EQ(msg("a\\xZ1"), "regex 'a\\xZ1': bad hex escape at offset 3");
  EXPECT_EQ(msg("\\u12G4"), "regex '\\u12G4': bad hex escape at offset 4");
  EXPECT_EQ(msg("\\u{12"), "regex '\\u{12': bad hex escape at offset 5");
}

// A pattern that is not UTF-8 is an error naming where (as for grammars); characters decode.
TEST(Regex, InvalidUtf8) {
  auto msg = [](std::string_view pattern) { return error_of([&] { regex_grammar(pattern); }); };
  EXPECT_EQ(msg("a\x80"), "regex 'a\x80': invalid UTF-8 at offset 2");
  EXPECT_EQ(msg("[a-\xBF]"), "regex '[a-\xBF]': invalid UTF-8 at offset 4");
  EXPECT_EQ(msg("x\xF0\x9F\x98"), "regex 'x\xF0\x9F\x98': invalid UTF-8 at offset 2");
  // Ill-formed but shaped like a character: a bad continuation byte, a surrogate, past U+10FFFF.
  EXPECT_EQ(msg("\xC3" "A"), "regex '\xC3" "A': invalid UTF-8 at offset 1");
  EXPECT_EQ(msg("a\xED\xA0\x80"), "regex 'a\xED\xA0\x80': invalid UTF-8 at offset 2");
  EXPECT_EQ(msg("[a\xF4\x90\x80\x80]"), "regex '[a\xF4\x90\x80\x80]': invalid UTF-8 at offset 3");
  const auto g = compile(regex_grammar("\xE2\x82\xAC[\xC3\xA0-\xC3\xBF]+"));  // €[à-ÿ]+
  EXPECT_TRUE(accepts(g, "\u20AC\u00E9\u00FF"));
  EXPECT_FALSE(accepts(g, "\u20AC\u00C9"));
}

TEST(Regex, Unsupported) {
  for (const char* p : {"(a)\\1", "a(?=b)", "\\bword", "\\p{L}+", "(?i)abc", "a++"})
    EXPECT_THROW(regex_grammar(p), Error) << p;
}

// As Ebnf.DeepNestingIsRefused; a quantifier after a quantifier is "multiple repeat", as in
// Python's re and ECMAScript. The message shows only the pattern's start.
TEST(Regex, DeepNestingIsRefused) {
  auto nested = [](size_t n) { return std::string(n, '(') + "a" + std::string(n, ')'); };
  EXPECT_TRUE(accepts(compile(regex_grammar(nested(256))), "a"));
  const std::string deep = error_of([&] { regex_grammar(nested(300000)); });
  EXPECT_NE(deep.find("groups nested deeper than 256"), std::string::npos) << deep;
  EXPECT_LT(deep.size(), 200u);
  EXPECT_NE(error_of([&] { regex_grammar("a" + std::string(300000, '*')); }).find("multiple repeat"), std::string::npos);
  for (const char* p : {"a**", "a{2}{3}", "a*??", "(a+)+*"})
    EXPECT_NE(error_of([&] { regex_grammar(p); }).find("multiple repeat"), std::string::npos) << p;
  const auto lazy = compile(regex_grammar("a*?b{2}?c{"));
  EXPECT_TRUE(accepts(lazy, "aabbc{"));
}

TEST(Regex, NestedRepetitionsAreBoundedByWork) {
  // Few DFA states, each a huge set of NFA states: refused once determinisation has visited
  // max_work NFA states (the default refuses ((a{0,40}){0,40}){0,40}, ~2 minutes unbounded).
  const Grammar g = regex_grammar("((a{0,12}){0,12}){0,12}");
  AutomatonLimits lim;
  lim.max_work = 1'000'000;
  const std::string e = error_of([&] { Automaton::build(g, lim); });
  EXPECT_EQ(e.rfind("grammar too large: building its automaton takes more than 1000000 steps", 0), 0u) << e;
  EXPECT_TRUE(accepts(compile(g), std::string(1728, 'a')));
}

TEST(Matcher, RollbackAndTermination) {
  const auto g = compile(regex_grammar("(yes|no)"));
  GrammarMatcher m(g);
  const TokenTable& t = g->tokens();
  const std::vector<int32_t> yes = Tokenizer::embedded_qwen3()->encode("yes");
  ASSERT_EQ(yes.size(), 1u);
  EXPECT_FALSE(m.accept_token(kImEnd));  // not complete yet
  ASSERT_TRUE(m.accept_token(yes[0]));
  const std::vector<uint32_t> bits = mask_of(m);
  EXPECT_EQ(allowed_ids(bits, t.vocab_size()), (std::vector<int32_t>{kEndOfText, kImEnd}));
  ASSERT_TRUE(m.accept_token(kImEnd));
  EXPECT_TRUE(m.is_terminated());
  EXPECT_FALSE(m.accept_token(yes[0]));
  m.rollback(2);
  EXPECT_EQ(m.num_accepted(), 0);
  EXPECT_FALSE(m.is_terminated());
  EXPECT_TRUE(m.accept_token(yes[0]));
}

// compile() computes the masks of the classes a matcher meets first, breadth first from the
// root's start: every class once, the start's first, each class along a string before the
// next one's; none at a budget of 0, all with kAllMasks.
// prefix_end (the mask walk's skip past a refused prefix) against a scan, on the real
// vocabulary: every token, at the prefix lengths the walk asks for.
TEST(TokenTable, PrefixEndEqualsAScan) {
  const TokenTable& t = *testing::qwen3_tokens();
  for (size_t i = 0; i < t.size(); i += 7)
    for (size_t k = 1; k <= std::min<size_t>(t.bytes(i).size(), 4); ++k) {
      const std::string_view prefix = t.bytes(i).substr(0, k);
      size_t end = i + 1;
      while (end < t.size() && t.bytes(end).substr(0, k) == prefix) ++end;
      ASSERT_EQ(t.prefix_end(i, k), end) << "token " << t.id(i) << ", " << k << " bytes";
    }
}

TEST(CompiledGrammar, MasksAtCompileNearestFirst) {
  const Grammar gr = regex_grammar("abc(d|e)+f[0-9]{0,3}");
  const auto lazy = CompiledGrammar::compile(gr, qwen3_tokens(), 0);
  const Automaton& a = lazy->automaton();
  const std::vector<int32_t> order = classes_by_distance(a);
  std::vector<int32_t> sorted = order, all(a.class_state.size());
  std::sort(sorted.begin(), sorted.end());
  std::iota(all.begin(), all.end(), 0);
  EXPECT_EQ(sorted, all);
  int32_t s = a.rule_start[static_cast<size_t>(a.root)];
  std::vector<size_t> at;
  for (char c : std::string("abcdf")) {
    at.push_back(static_cast<size_t>(std::find(order.begin(), order.end(), a.state_class[static_cast<size_t>(s)]) -
                                     order.begin()));
    s = a.step(s, static_cast<uint8_t>(c));
  }
  EXPECT_EQ(at[0], 0u);
  for (size_t i = 1; i < at.size(); ++i) EXPECT_GT(at[i], at[i - 1]) << i;
  EXPECT_EQ(lazy->stats().classes_computed, 0u);
  const CompileStats eager = CompiledGrammar::compile(gr, qwen3_tokens(), CompiledGrammar::kAllMasks)->stats();
  EXPECT_EQ(eager.classes_computed, eager.classes);
}

// Masks left to first use are computed by whichever matcher needs them first, from several
// threads at once (two walks each twice, so threads race for the same classes): every mask is
// the one of a compile that computed them all.
TEST(CompiledGrammar, MasksOnFirstUseFromThreads) {
  const Grammar gr = regex_grammar("\\[(\"[a-z ]{0,8}\"|[0-9]{1,6})(, (\"[a-z ]{0,8}\"|[0-9]{1,6})){0,6}\\]");
  const auto lazy = CompiledGrammar::compile(gr, qwen3_tokens(), 0);
  const auto eager = CompiledGrammar::compile(gr, qwen3_tokens(), CompiledGrammar::kAllMasks);
  std::atomic<int> steps = 0, mismatches = 0;
  std::vector<std::thread> threads;
  for (int k = 0; k < 4; ++k)
    threads.emplace_back([&, k] {
      std::mt19937 rng(k % 2);
      GrammarMatcher on_use(lazy), computed(eager);
      for (int step = 0; step < 40; ++step) {
        const std::vector<uint32_t> mask = mask_of(computed);
        mismatches += mask_of(on_use) != mask;
        ++steps;
        const int32_t pick = pick_allowed(mask, eager->tokens(), rng);
        if (pick < 0 || eager->tokens().is_stop(pick) || !on_use.accept_token(pick) || !computed.accept_token(pick))
          break;
      }
    });
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(mismatches, 0);
  EXPECT_GE(steps, 40);
  EXPECT_GT(lazy->stats().classes_computed, 0u);
}

}  // namespace
}  // namespace rotor::structured
