// tests/server/test_stop_matcher.cpp — stop strings across token boundaries: whatever the
// split of the text into pieces, the emitted text is the text up to the earliest stop string.
#include <gtest/gtest.h>

#include <random>

#include "server/stop_matcher.h"

namespace rotor::server {
namespace {

std::string run(const std::vector<std::string>& stops, const std::vector<std::string>& pieces, bool include,
                std::string* matched = nullptr) {
  StopMatcher m(stops, include);
  std::string out;
  for (const auto& p : pieces) out += m.push(p);
  out += m.flush();
  if (matched) *matched = m.matched();
  return out;
}

TEST(StopMatcher, NoStopsPassesThrough) {
  EXPECT_EQ(run({}, {"Hel", "lo", " world"}, false), "Hello world");
}

TEST(StopMatcher, StopInsideOnePiece) {
  std::string matched;
  EXPECT_EQ(run({"wor"}, {"Hello world"}, false, &matched), "Hello ");
  EXPECT_EQ(matched, "wor");
  EXPECT_EQ(run({"wor"}, {"Hello world"}, true), "Hello wor");
}

TEST(StopMatcher, StopAcrossPiecesIsNeverEmitted) {
  StopMatcher m({"STOP"}, false);
  EXPECT_EQ(m.push("abc ST"), "abc ");  // "ST" held back
  EXPECT_EQ(m.push("O"), "");
  EXPECT_EQ(m.push("Pxyz"), "");
  EXPECT_TRUE(m.stopped());
  EXPECT_EQ(m.push("more"), "");
  EXPECT_EQ(m.flush(), "");
}

TEST(StopMatcher, FalseStartIsReleased) {
  StopMatcher m({"STOP"}, false);
  EXPECT_EQ(m.push("a ST"), "a ");
  EXPECT_EQ(m.push("ART"), "START");
  EXPECT_FALSE(m.stopped());
  EXPECT_EQ(m.push("ST"), "");
  EXPECT_EQ(m.flush(), "ST");  // generation ended for another reason: the held text is emitted
}

TEST(StopMatcher, EarliestStopWins) {
  std::string matched;
  EXPECT_EQ(run({"world", "lo"}, {"Hello world"}, false, &matched), "Hel");
  EXPECT_EQ(matched, "lo");
}

TEST(StopMatcher, BeforeMinTokensNothingStops) {
  StopMatcher m({"x"}, false);
  EXPECT_EQ(m.push("axb", false), "axb");
  EXPECT_EQ(m.push("cxd", true), "c");
  EXPECT_TRUE(m.stopped());
}

TEST(StopMatcher, MultiByteStopString) {
  EXPECT_EQ(run({"é!"}, {"caf\xC3", "\xA9", "!", " no"}, false), "caf");
  EXPECT_EQ(run({"\xE2\x80\x94"}, {"a\xE2\x80", "\x94 b"}, false), "a");
}

TEST(StopMatcher, RandomSplitsMatchOneShot) {
  std::mt19937 rng(7);
  const std::string alphabet = "ab \n";
  for (int trial = 0; trial < 2000; ++trial) {
    std::string text;
    const int len = rng() % 30;
    for (int i = 0; i < len; ++i) text += alphabet[rng() % alphabet.size()];
    std::vector<std::string> stops;
    for (int s = 0, ns = rng() % 3; s < ns; ++s) {
      std::string stop;
      for (int i = 0, sl = 1 + rng() % 3; i < sl; ++i) stop += alphabet[rng() % alphabet.size()];
      stops.push_back(stop);
    }
    size_t cut = std::string::npos;
    for (const auto& s : stops) cut = std::min(cut, text.find(s));
    const std::string expected = cut == std::string::npos ? text : text.substr(0, cut);
    std::vector<std::string> pieces;
    for (size_t i = 0; i < text.size();) {
      const size_t n = std::min<size_t>(text.size() - i, rng() % 4);
      pieces.push_back(text.substr(i, n));
      i += n;
    }
    ASSERT_EQ(run(stops, pieces, false), expected) << "text '" << text << "'";
  }
}

}  // namespace
}  // namespace rotor::server
