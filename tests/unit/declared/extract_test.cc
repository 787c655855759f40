#include "jobs/tasks/declared/extract.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <random>

namespace codesweep {
namespace {

using ::testing::HasSubstr;

std::vector<Extractor> Chain(const char* json) {
  auto c = ParseExtractorChain(nlohmann::json::parse(json));
  EXPECT_TRUE(c.ok()) << c.status().ToString();
  return c.ok() ? *c : std::vector<Extractor>{};
}

std::optional<std::string> One(const char* json, std::string_view reply) {
  auto c = Chain(json);
  if (c.empty()) return std::nullopt;
  return ExtractWith(reply, c[0]);
}

TEST(ExtractTest, EachKindFindsItsAnswer) {
  EXPECT_EQ(One(R"("triple_angle")", "x <<<1>>> then <<< 42 >>>"), "42");
  EXPECT_EQ(One(R"("boxed")", R"(so \boxed{\frac{1}{2}} and \boxed{3})"), "3");
  EXPECT_EQ(One(R"("last_number")", "it costs $1,234.50 or -3/4 units."), "-3/4");
  EXPECT_EQ(One(R"("last_number")", "1.5e-3 is small"), "1.5e-3");
  EXPECT_EQ(One(R"("last_line")", "thinking\n  Paris  \n\n"), "Paris");
  EXPECT_EQ(One(R"j({"kind": "regex", "pattern": "Answer: (\\w+)"})j", "Answer: a\nAnswer: b"),
            "b");
  EXPECT_EQ(One(R"({"kind": "json_field", "field": "result.value"})",
                R"(I think {"result": {"value": 7}} is it.)"),
            "7");
  EXPECT_EQ(One(R"("whole")", "  all of it \n"), "all of it");
}

TEST(ExtractTest, ChainFallsBackInOrderAndRecordsTheSource) {
  auto chain = Chain(R"(["triple_angle", "boxed", "last_number"])");
  auto a = ExtractAnswer("no markers, just 12 then 13", chain);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->answer, "13");
  EXPECT_EQ(a->source, "last_number");
  auto b = ExtractAnswer("<<<7>>> \\boxed{8}", chain);
  EXPECT_EQ(b->source, "triple_angle");
  EXPECT_FALSE(ExtractAnswer("nothing here", chain));
  EXPECT_FALSE(ExtractAnswer("<<<   >>>", Chain(R"("triple_angle")")));
}

TEST(ExtractTest, ChoiceLetterOnlyWhenUnambiguous) {
  EXPECT_EQ(UnambiguousChoice("blah\nAnswer: (C)", "ABCD"), 'C');
  EXPECT_EQ(UnambiguousChoice("**B.**", "ABCD"), 'B');
  EXPECT_EQ(UnambiguousChoice("The answer is D", "ABCD"), 'D');
  EXPECT_EQ(UnambiguousChoice("I pick (B) over the others", "ABCD"), 'B');
  EXPECT_FALSE(UnambiguousChoice("(A) or (B)", "ABCD"));
  EXPECT_FALSE(UnambiguousChoice("A B C D", "ABCD"));
  EXPECT_FALSE(UnambiguousChoice("A dog ate it", "ABCD"));
  EXPECT_FALSE(UnambiguousChoice("E", "ABCD"));
  EXPECT_FALSE(UnambiguousChoice("", "ABCD"));
}

TEST(ExtractTest, BadSpecsAreErrorsNamingTheKey) {
  EXPECT_THAT(ParseExtractor("nope").status().message(), HasSubstr("unknown extractor 'nope'"));
  EXPECT_THAT(ParseExtractor(nlohmann::json::parse(R"({"kind":"regex","pattern":"(a"})"))
                  .status()
                  .message(),
              HasSubstr("bad pattern"));
  EXPECT_THAT(ParseExtractor(nlohmann::json::parse(R"({"kind":"regex","pattern":"a+"})"))
                  .status()
                  .message(),
              HasSubstr("capture group"));
  EXPECT_THAT(
      ParseExtractor(nlohmann::json::parse(R"({"kind":"boxed","patern":"x"})")).status().message(),
      HasSubstr("unknown key 'patern'"));
  EXPECT_FALSE(ParseExtractor(nlohmann::json::parse(R"({"kind":"json_field"})")).ok());
  EXPECT_FALSE(ParseExtractorChain(nlohmann::json::array()).ok());
  EXPECT_FALSE(ParseExtractor(7).ok());
}

// Hostile replies: megabytes, pathological regex input, deep JSON, invalid UTF-8. Each
// extractor returns (something or nothing) without crashing.
TEST(ExtractTest, HostileRepliesNeverCrash) {
  auto chain = Chain(R"j(["triple_angle", "boxed", "last_number", "last_line", "choice_letter",
      {"kind": "regex", "pattern": "(a*)*b"}, {"kind": "json_field", "field": "x"}, "whole"])j");
  std::vector<std::string> replies = {std::string(3 << 20, 'a'),
                                      std::string(200000, '{') + std::string(200000, '}'),
                                      std::string(100000, '<') + std::string(100000, '>'),
                                      "\xff\xfe<<<\x80>>>",
                                      std::string("\\boxed{") + std::string(100000, '{'),
                                      std::string(50000, '\n'),
                                      "{\"x\": " + std::string(100000, '[') + "}"};
  std::mt19937 rng(7);
  for (int i = 0; i < 200; ++i) {
    std::string r(rng() % 300, ' ');
    for (char& c : r) c = static_cast<char>(rng() % 256);
    replies.push_back(r);
  }
  for (const std::string& r : replies) {
    for (const Extractor& e : chain) (void)ExtractWith(r, e);
  }
  auto empty_match = One(R"j({"kind": "regex", "pattern": "(x*)"})j", "abc");
  EXPECT_FALSE(empty_match);  // only empty matches: nothing extracted, and no endless loop
}

}  // namespace
}  // namespace codesweep
