#include <gtest/gtest.h>

#include "jobs/tasks/factories.h"

namespace codesweep {
namespace {

// A 1x2 grid: a red box in square[0.5, 0.5], its target in square[0.5, 1.5], and a blue box on
// its own target in square[0.5, 1.5].
Instance Small() {
  Instance inst;
  inst.task = "boxnet";
  inst.data = {{"rows", 1},
               {"cols", 2},
               {"cells", {{"box_red"}, {"target_red", "box_blue", "target_blue"}}}};
  return inst;
}

TEST(BoxNetTest, GenerateIsDeterministicAndMirrorsReleasedData) {
  auto task = MakeBoxNetTask();
  auto a = task->Generate("2x4", 5, 9);
  auto b = task->Generate("2x4", 5, 9);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->prompt, b->prompt);
  EXPECT_EQ(a->data, b->data);
  EXPECT_NE(a->data, task->Generate("2x4", 6, 9)->data);
  for (int s = 0; s < 100; ++s) {
    auto inst = task->Generate("4x4", s, 3);
    ASSERT_TRUE(inst.ok());
    ASSERT_EQ(inst->data["cells"].size(), 16u);
    std::map<std::string, int> boxes, targets;
    for (const auto& cell : inst->data["cells"]) {
      for (const auto& item : cell) {
        std::string s = item.get<std::string>();
        if (s.rfind("box_", 0) == 0)
          boxes[s.substr(4)]++;
        else
          targets[s.substr(7)]++;
      }
    }
    EXPECT_EQ(boxes.size(), 5u);
    EXPECT_EQ(boxes, targets);
    for (auto& [c, n] : boxes) EXPECT_TRUE(n >= 1 && n <= 3) << c << n;
  }
}

TEST(BoxNetTest, ComplexityValidation) {
  auto task = MakeBoxNetTask();
  for (const char* good : {"1x2", "8x8", "1x1", "4x8"})
    EXPECT_TRUE(task->ValidateComplexity(good).ok());
  for (const char* bad : {"", "2", "0x2", "9x1", "2x", "x2", "2X2", "2x2x2", "-1x2"}) {
    EXPECT_FALSE(task->ValidateComplexity(bad).ok()) << bad;
  }
}

TEST(BoxNetTest, CanonicalAnswerPassesAtEveryLevel) {
  auto task = MakeBoxNetTask();
  for (const auto& level : task->complexity_levels()) {
    for (int s = 0; s < 30; ++s) {
      auto inst = task->Generate(level, s, 11);
      ASSERT_TRUE(inst.ok());
      Verdict v = task->Check(*inst, "<<<" + inst->canonical_answer + ">>>");
      EXPECT_TRUE(v.correct) << level << " " << v.reason << "\n" << inst->canonical_answer;
      EXPECT_DOUBLE_EQ(v.score, 1.0);
    }
  }
}

TEST(BoxNetTest, CheckerVerdicts) {
  auto task = MakeBoxNetTask();
  Instance inst = Small();
  auto check = [&](const std::string& a) { return task->Check(inst, "<<<" + a + ">>>"); };
  Verdict ok = check(R"J([{"Agent[0.5, 0.5]": "move(box_red, square[0.5, 1.5])",
                          "Agent[0.5, 1.5]": "move(box_blue, target_blue)"},
                         {"Agent[0.5, 1.5]": "move(box_red, target_red)"}])J");
  EXPECT_TRUE(ok.correct) << ok.reason;
  EXPECT_DOUBLE_EQ(ok.score, 1.0);

  // A box moved into a square is usable only from the next step.
  Verdict chained = check(R"J([{"Agent[0.5, 0.5]": "move(box_red, square[0.5, 1.5])",
                               "Agent[0.5, 1.5]": "move(box_red, target_red)"}])J");
  EXPECT_FALSE(chained.correct);
  EXPECT_NE(chained.reason.find("no box_red"), std::string::npos) << chained.reason;

  Verdict partial = check(R"J([{"Agent[0.5, 1.5]": "move(box_blue, target_blue)"}])J");
  EXPECT_FALSE(partial.correct);
  EXPECT_DOUBLE_EQ(partial.score, 0.5);
  EXPECT_NE(partial.reason.find("1 of 2 boxes not delivered"), std::string::npos);

  Verdict wrong_target = check(R"J([{"Agent[0.5, 0.5]": "move(box_red, target_red)"}])J");
  EXPECT_FALSE(wrong_target.correct);
  EXPECT_NE(wrong_target.reason.find("no target_red"), std::string::npos) << wrong_target.reason;

  Verdict far = check(R"J([{"Agent[0.5, 0.5]": "move(box_red, square[0.5, 0.5])"}])J");
  EXPECT_NE(far.reason.find("not adjacent"), std::string::npos) << far.reason;
  Verdict off = check(R"J([{"Agent[0.5, 0.5]": "move(box_red, square[1.5, 0.5])"}])J");
  EXPECT_NE(off.reason.find("no such square"), std::string::npos) << off.reason;
  Verdict nobody = check(R"J([{"Agent[3.5, 0.5]": "move(box_red, square[0.5, 1.5])"}])J");
  EXPECT_NE(nobody.reason.find("no agent"), std::string::npos) << nobody.reason;
  Verdict twice = check(R"J([{"Agent[0.5, 1.5]": "move(box_blue, target_blue)",
                             "Agent[0.5,1.5]": "move(box_red, target_red)"}])J");
  EXPECT_NE(twice.reason.find("acts twice"), std::string::npos) << twice.reason;
  EXPECT_DOUBLE_EQ(twice.score, 0.5);
  Verdict mismatch = check(R"J([{"Agent[0.5, 1.5]": "move(box_blue, target_red)"}])J");
  EXPECT_NE(mismatch.reason.find("colours differ"), std::string::npos);
  EXPECT_FALSE(check(R"J([{"Agent[0.5, 1.5]": 7}])J").correct);
  EXPECT_FALSE(check(R"J([["Agent[0.5, 1.5]"]])J").correct);
  EXPECT_FALSE(check(R"J({"Agent[0.5, 1.5]": "move(box_blue, target_blue)"})J").correct);
  EXPECT_FALSE(check("[{'Agent[0.5, 1.5]': 'move(box_blue, target_blue)'}]").correct);
  EXPECT_FALSE(check(R"J([{"Agent[NaN, 1.5]": "move(box_blue, target_blue)"}])J").correct);
  EXPECT_FALSE(check(R"J([{"Agent[1e999, 1.5]": "move(box_blue, target_blue)"}])J").correct);
  // Without <<< >>> the last JSON list of the reply is read.
  Verdict loose =
      task->Check(inst, R"J(Plan: [{"Agent[0.5, 1.5]": "move(box_blue, target_blue)"}])J");
  EXPECT_DOUBLE_EQ(loose.score, 0.5);
}

}  // namespace
}  // namespace codesweep
