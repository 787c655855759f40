#include "jobs/tasks/declared/scorers.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace codesweep {
namespace {

using ::testing::HasSubstr;

Scorer S(const char* json) {
  auto s = ParseScorer(nlohmann::json::parse(json));
  EXPECT_TRUE(s.ok()) << s.status().ToString();
  return s.ok() ? *s : Scorer{};
}

bool Ok(const char* scorer, std::string_view answer, std::vector<std::string> targets) {
  return Score(S(scorer), answer, targets).correct;
}

TEST(ScorersTest, ExactAndNormalized) {
  EXPECT_TRUE(Ok(R"("exact")", " Paris ", {"Paris"}));
  EXPECT_FALSE(Ok(R"("exact")", "paris", {"Paris"}));
  EXPECT_TRUE(Ok(R"({"kind":"exact","case_sensitive":false})", "paris", {"Paris"}));
  EXPECT_TRUE(Ok(R"("normalized")", "The  Eiffel tower!", {"eiffel Tower"}));
  EXPECT_FALSE(Ok(R"("normalized")", "Eiffel", {"Eiffel Tower"}));
  EXPECT_FALSE(Ok(R"("normalized")", "!!!", {"..."}));  // both normalize to nothing
  EXPECT_TRUE(Ok(R"("exact")", "b", {"a", "b"}));       // any accepted target
}

TEST(ScorersTest, NumericWithToleranceSeparatorsFractionsAndUnits) {
  EXPECT_TRUE(Ok(R"("numeric")", "1,234", {"1234"}));
  EXPECT_TRUE(Ok(R"("numeric")", "$12.00", {"12"}));
  EXPECT_TRUE(Ok(R"("numeric")", "3/4", {"0.75"}));
  EXPECT_TRUE(Ok(R"("numeric")", "-3/4", {"-0.75"}));
  EXPECT_TRUE(Ok(R"("numeric")", "12 km", {"12"}));
  EXPECT_TRUE(Ok(R"("numeric")", "45%", {"45"}));
  EXPECT_FALSE(Ok(R"("numeric")", "100.1", {"100"}));
  EXPECT_TRUE(Ok(R"({"kind":"numeric","rel_tol":1e-2})", "100.1", {"100"}));
  EXPECT_TRUE(Ok(R"({"kind":"numeric","abs_tol":0.01})", "0.005", {"0"}));
  Verdict none = Score(S(R"("numeric")"), "no digits", {"3"});
  EXPECT_FALSE(none.correct);
  EXPECT_EQ(none.reason, "no number in the answer");
  EXPECT_EQ(Score(S(R"("numeric")"), "3", {"three"}).reason, "the target is not a number");
  EXPECT_FALSE(Ok(R"("numeric")", "1/0", {"1"}));
}

TEST(ScorersTest, ChoiceRegexContainsSetMath) {
  EXPECT_TRUE(Ok(R"("choice")", "(B)", {"B"}));
  EXPECT_FALSE(Ok(R"("choice")", "(A) or (B)", {"B"}));
  EXPECT_TRUE(Ok(R"({"kind":"regex","pattern":"[0-9]{3}-[0-9]{4}"})", "555-1234", {}));
  EXPECT_TRUE(Ok(R"("regex")", "colour", {"colou?r"}));
  EXPECT_FALSE(Ok(R"("regex")", "colours", {"colou?r"}));  // whole answer
  EXPECT_TRUE(Ok(R"("contains")", "It is the Eiffel Tower, in Paris.", {"paris"}));
  EXPECT_FALSE(Ok(R"("contains")", "Parisian food", {"paris"}));  // whole words
  EXPECT_TRUE(Ok(R"("set")", "blue, red and green", {"red", "green", "blue"}));
  EXPECT_TRUE(Ok(R"("set")", "blue; red", {"red, blue"}));
  Verdict partial = Score(S(R"("set")"), "red, yellow", {"red", "blue"});
  EXPECT_FALSE(partial.correct);
  EXPECT_DOUBLE_EQ(partial.score, 0.5);
  EXPECT_THAT(partial.reason, HasSubstr("1 of 2 items right, 1 extra"));
  EXPECT_TRUE(Ok(R"("math")", "\\frac{1}{2}", {"0.5"}));
  EXPECT_FALSE(Ok(R"("math")", "\\frac{1}{3}", {"0.5"}));
}

TEST(ScorersTest, BadSpecsAndNoTargets) {
  EXPECT_THAT(ParseScorer("fuzzy").status().message(), HasSubstr("unknown kind 'fuzzy'"));
  EXPECT_THAT(
      ParseScorer(nlohmann::json::parse(R"({"kind":"numeric","rel_tol":-1})")).status().message(),
      HasSubstr("rel_tol"));
  EXPECT_THAT(ParseScorer(nlohmann::json::parse(R"({"kind":"exact","tol":1})")).status().message(),
              HasSubstr("unknown key 'tol'"));
  EXPECT_FALSE(ParseScorer(nlohmann::json::parse(R"({"kind":"regex","pattern":"("})")).ok());
  EXPECT_EQ(Score(S(R"("exact")"), "x", {}).reason, "no target to compare with");
  EXPECT_FALSE(Ok(R"("regex")", "x", {"("}));  // a bad target pattern is a verdict, not a crash
}

TEST(ScorersTest, NormalizeText) {
  EXPECT_EQ(NormalizeText("  The Quick, brown FOX!  "), "quick brown fox");
  EXPECT_EQ(NormalizeText("an apple a day"), "apple day");
  EXPECT_EQ(NormalizeText("Ünïcode stays"), "Ünïcode stays");
}

}  // namespace
}  // namespace codesweep
