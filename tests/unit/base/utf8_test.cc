// UTF-8 helpers: cuts never split a character, invalid input is repaired, terminals get no
// control characters.
#include "base/utf8.h"

#include <gtest/gtest.h>

namespace codesweep {
namespace {

TEST(Utf8, ValidatesPerRfc3629) {
  EXPECT_TRUE(IsValidUtf8("plain ascii"));
  EXPECT_TRUE(IsValidUtf8("6 \xC3\x97 7 \xC3\xB7 2, \xE4\xB8\xAD\xE6\x96\x87, \xF0\x9F\x98\x80"));
  EXPECT_TRUE(IsValidUtf8("\xEF\xBF\xBD"));                // U+FFFD itself
  EXPECT_FALSE(IsValidUtf8("\xFF"));                       // never valid
  EXPECT_FALSE(IsValidUtf8("\xC3"));                       // cut short
  EXPECT_FALSE(IsValidUtf8("\xC0\xAF"));                   // overlong '/'
  EXPECT_FALSE(IsValidUtf8("\xED\xA0\x80"));               // surrogate
  EXPECT_FALSE(IsValidUtf8("\xF4\x90\x80\x80"));           // past U+10FFFF
  EXPECT_FALSE(IsValidUtf8(std::string_view("\x80", 1)));  // lone continuation
}

TEST(Utf8, RepairReplacesEachInvalidSequence) {
  EXPECT_EQ(ValidUtf8("a\xFF"
                      "b"),
            "a\xEF\xBF\xBD"
            "b");
  EXPECT_EQ(ValidUtf8("x\xE4\xB8"), "x\xEF\xBF\xBD");  // a CJK character cut in half
  EXPECT_EQ(ValidUtf8("\xC3\x97"), "\xC3\x97");
  EXPECT_TRUE(IsValidUtf8(ValidUtf8("\xF0\x9F\x98\xFF\xFE\xC0\xAF\xED\xA0\x80")));
}

TEST(Utf8, CutsAtCharacterBoundaries) {
  const std::string s = "ab\xE4\xB8\xAD\xF0\x9F\x98\x80";  // a b 中 😀
  EXPECT_EQ(Utf8CutPoint(s, 100), s.size());
  EXPECT_EQ(Utf8CutPoint(s, 2), 2u);
  EXPECT_EQ(Utf8CutPoint(s, 3), 2u);
  EXPECT_EQ(Utf8CutPoint(s, 4), 2u);
  EXPECT_EQ(Utf8CutPoint(s, 5), 5u);
  EXPECT_EQ(Utf8CutPoint(s, 8), 5u);
  for (size_t n = 0; n <= s.size(); ++n) {
    EXPECT_TRUE(IsValidUtf8(TruncateUtf8(s, n))) << n;
    EXPECT_LE(TruncateUtf8(s, n, "").size(), n);
  }
  EXPECT_EQ(TruncateUtf8(s, 4), "ab...");
}

TEST(Utf8, TerminalEscapesControlCharacters) {
  EXPECT_EQ(EscapeForTerminal("ok\n\ttab"), "ok\n\ttab");
  EXPECT_EQ(EscapeForTerminal("\x1b[2J\x07"), "\\x1b[2J\\x07");
  EXPECT_EQ(EscapeForTerminal("a\x7f"), "a\\x7f");
  EXPECT_EQ(EscapeForTerminal("\xC2\x9B"
                              "31m"),
            "\\u009b31m");  // C1 CSI
  EXPECT_EQ(EscapeForTerminal("\r"), "\\x0d");
  EXPECT_EQ(EscapeForTerminal("\xC3\x97 \xE4\xB8\xAD"), "\xC3\x97 \xE4\xB8\xAD");
  EXPECT_EQ(EscapeForTerminal("\xFF"), "\xEF\xBF\xBD");
}

}  // namespace
}  // namespace codesweep
