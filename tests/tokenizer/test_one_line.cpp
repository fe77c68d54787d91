// tests/tokenizer/test_one_line.cpp — one_line: escapes as Python's repr writes them, invalid
// UTF-8 escaped byte by byte, both ends of a long message kept within the limit, and on random
// bytes always one line of valid UTF-8 no longer than the limit.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "tokenizer/one_line.h"
#include "tokenizer/utf8.h"

namespace rotor {
namespace {

TEST(OneLine, EscapesControlCharactersLineBreaksAndInvalidBytes) {
  EXPECT_EQ(one_line("short", 300), "short");
  EXPECT_EQ(one_line(std::string("a\nb\r\tc\x01\x1f\x7f", 9) + std::string(1, '\0'), 300), "a\\nb\\r\\tc\\x01\\x1f\\x7f\\x00");
  EXPECT_EQ(one_line("\xc2\x85|\xe2\x80\xa8|\xe2\x80\xa9", 300), "\\x85|\\u2028|\\u2029");
  EXPECT_EQ(one_line("caf\xc3\xa9 \xf0\x9f\x99\x82 \\x", 300), "caf\xc3\xa9 \xf0\x9f\x99\x82 \\x");  // kept as is
  EXPECT_EQ(one_line("a\xff" "b\xe2\x82" "c\xc0\xaf\xed\xa0\x80", 300),
            "a\\xffb\\xe2\\x82c\\xc0\\xaf\\xed\\xa0\\x80");
}

TEST(OneLine, KeepsBothEndsOfALongMessage) {
  const std::string message = "head\n" + std::string(2000, 'x') + "tail";
  const std::string line = one_line(message, 100);
  EXPECT_EQ(line.size(), 100u) << line;
  EXPECT_TRUE(line.starts_with("head\\nxxx")) << line;
  EXPECT_TRUE(line.ends_with("xxxtail")) << line;
  EXPECT_NE(line.find(" ... "), std::string::npos);
  EXPECT_EQ(one_line(std::string(100, 'x'), 100), std::string(100, 'x'));
  EXPECT_EQ(one_line(std::string(101, 'x'), 100), std::string(47, 'x') + " ... " + std::string(48, 'x'));
}

TEST(OneLine, CutsAtCharacterAndEscapeBoundaries) {
  // Each "é" is 2 bytes and each \x01 becomes 4: a cut at any byte would split one.
  for (const std::string unit : {"\xc3\xa9", "\x01", "\xf0\x9f\x99\x82", "\xff"}) {
    std::string message;
    for (int i = 0; i < 500; ++i) message += unit;
    const std::string escaped_unit = one_line(unit, 300);
    for (size_t max_bytes : {size_t{20}, size_t{21}, size_t{22}, size_t{23}, size_t{300}}) {
      const std::string line = one_line(message, max_bytes);
      EXPECT_LE(line.size(), max_bytes);
      const size_t cut = line.find(" ... ");
      ASSERT_NE(cut, std::string::npos) << line;
      const std::string head = line.substr(0, cut), tail = line.substr(cut + 5);
      EXPECT_EQ(head.size() % escaped_unit.size(), 0u) << line;
      EXPECT_EQ(tail.size() % escaped_unit.size(), 0u) << line;
      EXPECT_GE(head.size() + tail.size() + 5 + 2 * escaped_unit.size(), max_bytes) << line;  // no more cut than needed
      EXPECT_TRUE(utf8::is_valid(line)) << line;
    }
  }
}

TEST(OneLine, RandomBytesGiveOneLineOfValidUtf8WithinTheLimit) {
  std::mt19937 rng(20261208);
  for (int iter = 0; iter < 2000; ++iter) {
    std::string message(rng() % 400, '\0');
    for (char& c : message) c = static_cast<char>(rng() % 4 ? rng() % 0x80 : rng() % 0x100);
    const size_t max_bytes = 5 + rng() % 300;
    const std::string line = one_line(message, max_bytes);
    EXPECT_TRUE(utf8::is_valid(line));
    EXPECT_EQ(line.find_first_of("\r\n"), std::string::npos);
    EXPECT_LE(line.size(), max_bytes);
    const bool printable_ascii =
        std::all_of(message.begin(), message.end(), [](char c) { return c >= 0x20 && c < 0x7f; });
    if (printable_ascii && message.size() <= max_bytes) {
      EXPECT_EQ(line, message);
    }
  }
}

}  // namespace
}  // namespace rotor
