#include "jobs/methods/extract.h"

#include <gtest/gtest.h>

namespace codesweep {
namespace {

TEST(ExtractTest, PythonFencesInOrder) {
  auto b = ExtractCodeBlocks("a\n```python\nprint(1)\n```\ntext\n```python\nprint(2)\nx=3\n```\n");
  ASSERT_EQ(b.size(), 2u);
  EXPECT_EQ(b[0], "print(1)");
  EXPECT_EQ(b[1], "print(2)\nx=3");
}

TEST(ExtractTest, AcceptsPyPython3AndUnlabelledButNotOtherLanguages) {
  EXPECT_EQ(ExtractCodeBlocks("```py\nprint(1)\n```").size(), 1u);
  EXPECT_EQ(ExtractCodeBlocks("```Python3\nprint(1)\n```").size(), 1u);
  EXPECT_EQ(ExtractCodeBlocks("```\nprint(1)\n```").size(), 1u);
  EXPECT_EQ(ExtractCodeBlocks("``` python \nprint(1)\n```").size(), 1u);
  EXPECT_TRUE(ExtractCodeBlocks("```sh\nls\n```").empty());
  EXPECT_TRUE(ExtractCodeBlocks("```json\n{}\n```").empty());
  auto b = ExtractCodeBlocks("```sh\nls\n```\n```python\nprint(3)\n```");
  ASSERT_EQ(b.size(), 1u);
  EXPECT_EQ(b[0], "print(3)");
}

TEST(ExtractTest, UnclosedAndInlineFencesAreNotBlocks) {
  EXPECT_TRUE(ExtractCodeBlocks("```python\nprint(1)\n").empty());
  EXPECT_TRUE(ExtractCodeBlocks("use ```x``` inline").empty());
  EXPECT_TRUE(ExtractCodeBlocks("").empty());
  EXPECT_TRUE(ExtractCodeBlocks("```").empty());
}

TEST(ExtractTest, EmptyBlockAndCrlf) {
  auto b = ExtractCodeBlocks("```python\n```");
  ASSERT_EQ(b.size(), 1u);
  EXPECT_EQ(b[0], "");
  auto c = ExtractCodeBlocks("```python\r\nprint(1)\r\n```\r\n");
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0], "print(1)\r");
}

TEST(ExtractTest, HostileBytesDoNotCrash) {
  std::string junk(100000, '`');
  junk[500] = '\n';
  junk += std::string("\0\xff\xfe", 3);
  (void)ExtractCodeBlocks(junk);
  (void)ParseSelfEstimate(junk);
  (void)SaysTerminate(junk);
}

TEST(TerminateTest, WordOnly) {
  EXPECT_TRUE(SaysTerminate("done.\nTERMINATE"));
  EXPECT_TRUE(SaysTerminate("TERMINATE"));
  EXPECT_TRUE(SaysTerminate("answer <<<5>>> (TERMINATE)"));
  EXPECT_FALSE(SaysTerminate("terminate"));
  EXPECT_FALSE(SaysTerminate("TERMINATED"));
  EXPECT_FALSE(SaysTerminate("NONTERMINATE"));
}

TEST(SelfEstimateParseTest, CommonShapes) {
  auto s = ParseSelfEstimate("Code score: 8\nText score: 5");
  EXPECT_EQ(s.code, 8.0);
  EXPECT_EQ(s.text, 5.0);
  s = ParseSelfEstimate("**Text**: 7/10, **Code**: 9.5/10");
  EXPECT_EQ(s.code, 9.5);
  EXPECT_EQ(s.text, 7.0);
  s = ParseSelfEstimate("code score (0-10): 3\ntext score (0-10): 12");
  EXPECT_EQ(s.code, 3.0);
  EXPECT_EQ(s.text, 10.0);
  s = ParseSelfEstimate("In this context: 4. I like code.");
  EXPECT_FALSE(s.code.has_value());
  EXPECT_FALSE(s.text.has_value());
  s = ParseSelfEstimate("Code score: <0-10>");
  EXPECT_FALSE(s.code.has_value());
}

}  // namespace
}  // namespace codesweep
