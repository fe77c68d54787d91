// tests/server/test_grammar_cache.cpp — GrammarCache under concurrent requests: a compile in
// flight blocks neither cached grammars nor other constraints; requests for its constraint
// wait for it (one compile); a failed compile reaches every waiter, each named by its own
// field, and is not kept; the token table is built once; the LRU evicts the least recently
// used grammar; a grammar's masks are computed with it. Compiles and table builds are held at
// gates the test opens, so every interleaving checked is forced, not hoped for.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>

#include "core/check.h"
#include "core/error.h"
#include "server/grammar_cache.h"

namespace rotor::server {
namespace {

using namespace std::chrono_literals;
constexpr auto kPatience = 10s;  // far beyond any wait a correct cache makes

// A count that threads raise and the test waits for (bounded, so a broken cache fails).
class Count {
 public:
  void add() {
    std::lock_guard lk(mu_);
    ++n_;
    cv_.notify_all();
  }
  bool reaches(int k) {
    std::unique_lock lk(mu_);
    return cv_.wait_for(lk, kPatience, [&] { return n_ >= k; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int n_ = 0;
};

// Held closed until the test opens it.
class Gate {
 public:
  void open() {
    std::lock_guard lk(mu_);
    open_ = true;
    cv_.notify_all();
  }
  void pass() {
    std::unique_lock lk(mu_);
    cv_.wait(lk, [&] { return open_; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = false;
};

// Opens a gate when the test leaves (declared after the futures of the threads it holds, so
// before they are joined).
struct OpenOnExit {
  Gate& gate;
  ~OpenOnExit() { gate.open(); }
};

StructuredSpec regex(std::string pattern, std::string field = "structured_outputs.regex") {
  StructuredSpec s;
  s.kind = StructuredSpec::Kind::Regex;
  s.text = std::move(pattern);
  s.field = std::move(field);
  return s;
}

StructuredSpec choice(std::vector<std::string> choices) {
  StructuredSpec s;
  s.kind = StructuredSpec::Kind::Choice;
  s.choices = std::move(choices);
  s.field = "structured_outputs.choice";
  return s;
}

class GrammarCacheTest : public ::testing::Test {
 protected:
  GrammarCache::Table make_table() {
    ++tables;
    if (fail_table) ROTOR_FAIL("no vocabulary");
    if (hold_table) {
      table_entered.add();
      table_gate.pass();
    }
    return structured::TokenTable::from_tokens({"", "a", "b", "x", "y", "s", "n", "o", "yes", "no", "("}, 12, {0});
  }
  GrammarCache::Compiled compile(const StructuredSpec& s, GrammarCache::Table t) {
    ++compiles;
    if (s.key() == slow_key) {
      entered.add();
      gate.pass();
    }
    return GrammarCache::compile_spec(s, std::move(t));
  }

  std::atomic<int> tables = 0, compiles = 0;
  std::atomic<bool> fail_table = false, hold_table = false;
  std::string slow_key;  // its compile waits at `gate`
  Gate gate, table_gate;
  Count entered, table_entered, waits;
  GrammarCache cache{[this] { return make_table(); },
                     [this](const StructuredSpec& s, GrammarCache::Table t) { return compile(s, std::move(t)); }, 2};
};

TEST_F(GrammarCacheTest, NoConstraintIsNoGrammar) {
  EXPECT_EQ(cache.get(StructuredSpec{}), nullptr);
  EXPECT_EQ(tables, 0);
}

TEST_F(GrammarCacheTest, SlowCompileBlocksNeitherCachedGrammarsNorOtherConstraints) {
  const GrammarCache::Compiled cached = cache.get(choice({"yes", "no"}));
  slow_key = regex("a+b").key();
  std::future<GrammarCache::Compiled> slow, hit, other;
  OpenOnExit release{gate};  // destroyed first: no thread is left waiting at the gate
  slow = std::async(std::launch::async, [&] { return cache.get(regex("a+b")); });
  ASSERT_TRUE(entered.reaches(1));
  hit = std::async(std::launch::async, [&] { return cache.get(choice({"yes", "no"})); });
  ASSERT_EQ(hit.wait_for(kPatience), std::future_status::ready) << "a cached grammar waited for another's compile";
  EXPECT_EQ(hit.get(), cached);
  other = std::async(std::launch::async, [&] { return cache.get(regex("x*y")); });
  ASSERT_EQ(other.wait_for(kPatience), std::future_status::ready) << "a new constraint waited for another's compile";
  EXPECT_NE(other.get(), nullptr);
  gate.open();
  EXPECT_NE(slow.get(), nullptr);
  EXPECT_EQ(compiles, 3);
  EXPECT_EQ(tables, 1);
}

TEST_F(GrammarCacheTest, RequestsForACompileInFlightWaitForIt) {
  cache.set_wait_hook([&] { waits.add(); });
  slow_key = regex("a+b").key();
  std::future<GrammarCache::Compiled> first, second;
  OpenOnExit release{gate};
  first = std::async(std::launch::async, [&] { return cache.get(regex("a+b")); });
  ASSERT_TRUE(entered.reaches(1));
  second = std::async(std::launch::async, [&] { return cache.get(regex("a+b", "guided_regex")); });
  ASSERT_TRUE(waits.reaches(1)) << "the second request did not wait for the compile in flight";
  gate.open();
  const GrammarCache::Compiled g = first.get();
  ASSERT_NE(g, nullptr);
  EXPECT_EQ(second.get(), g);
  EXPECT_EQ(cache.get(regex("a+b")), g);
  EXPECT_EQ(compiles, 1);
}

TEST_F(GrammarCacheTest, FailedCompileReachesItsWaitersAndIsNotKept) {
  cache.set_wait_hook([&] { waits.add(); });
  slow_key = regex("(").key();
  std::future<GrammarCache::Compiled> first, second;
  OpenOnExit release{gate};
  first = std::async(std::launch::async, [&] { return cache.get(regex("(")); });
  ASSERT_TRUE(entered.reaches(1));
  second = std::async(std::launch::async, [&] { return cache.get(regex("(", "guided_regex")); });
  ASSERT_TRUE(waits.reaches(1));
  gate.open();
  std::string m1, m2;
  try {
    first.get();
  } catch (const Error& e) {
    m1 = e.what();
  }
  try {
    second.get();
  } catch (const Error& e) {
    m2 = e.what();
  }
  const std::string f1 = "'structured_outputs.regex': ", f2 = "'guided_regex': ";
  ASSERT_EQ(m1.rfind(f1, 0), 0u) << m1;
  ASSERT_EQ(m2.rfind(f2, 0), 0u) << m2;
  EXPECT_EQ(m1.substr(f1.size()), m2.substr(f2.size()));
  EXPECT_THROW(cache.get(regex("(")), Error);
  EXPECT_EQ(compiles, 2) << "a failed compile was kept";
}

TEST_F(GrammarCacheTest, TokenTableBuiltOnceWhileOthersWait) {
  cache.set_wait_hook([&] { waits.add(); });
  hold_table = true;
  std::future<GrammarCache::Compiled> first, second;
  OpenOnExit release{table_gate};
  first = std::async(std::launch::async, [&] { return cache.get(regex("a+")); });
  ASSERT_TRUE(table_entered.reaches(1));
  second = std::async(std::launch::async, [&] { return cache.get(regex("b+")); });
  ASSERT_TRUE(waits.reaches(1)) << "the second request did not wait for the table being built";
  table_gate.open();
  EXPECT_NE(first.get(), nullptr);
  EXPECT_NE(second.get(), nullptr);
  EXPECT_EQ(tables, 1);
}

TEST_F(GrammarCacheTest, FailedTokenTableIsBuiltAgain) {
  fail_table = true;
  try {
    cache.get(regex("a+"));
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "'structured_outputs.regex': no vocabulary");
  }
  fail_table = false;
  EXPECT_NE(cache.get(regex("a+")), nullptr);
  EXPECT_EQ(tables, 2);
}

TEST_F(GrammarCacheTest, LruEvictsTheLeastRecentlyUsed) {
  const GrammarCache::Compiled a = cache.get(regex("a")), b = cache.get(regex("b"));
  EXPECT_EQ(cache.get(regex("a")), a);  // a is now the most recent
  cache.get(regex("x"));                // evicts b (capacity 2)
  EXPECT_EQ(compiles, 3);
  EXPECT_EQ(cache.get(regex("a")), a);
  EXPECT_EQ(compiles, 3);
  EXPECT_NE(cache.get(regex("b")), b);
  EXPECT_EQ(compiles, 4);
}

// A grammar's masks come with it, computed on the requesting thread, not left to the engine's
// first steps (this grammar is small: every class within the budget).
TEST_F(GrammarCacheTest, MasksComeWithTheGrammar) {
  const structured::CompileStats st = cache.get(regex("(ab|x)*y"))->stats();
  EXPECT_GT(st.classes, 0u);
  EXPECT_EQ(st.classes_computed, st.classes);
}

}  // namespace
}  // namespace rotor::server
