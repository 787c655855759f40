#include <gtest/gtest.h>

#include "jobs/tasks/factories.h"

namespace codesweep {
namespace {

Instance Fixed(const Task& task, std::vector<int64_t> boxes, std::vector<int64_t> lifters,
               size_t limit) {
  Instance inst;
  inst.task = "boxlift";
  inst.data = {{"boxes", boxes}, {"lifters", lifters}, {"step_limit", limit}};
  (void)task;
  return inst;
}

TEST(BoxLiftTest, GenerateIsDeterministicAndVariesWithSeed) {
  auto task = MakeBoxLiftTask();
  auto a = task->Generate("15_4", 3, 7);
  auto b = task->Generate("15_4", 3, 7);
  auto c = task->Generate("15_4", 3, 8);
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  EXPECT_EQ(a->prompt, b->prompt);
  EXPECT_EQ(a->data, b->data);
  EXPECT_NE(a->data, c->data);
  EXPECT_EQ(a->data["boxes"].size(), 15u);
  EXPECT_EQ(a->data["lifters"].size(), 4u);
  EXPECT_NE(a->prompt.find("<<<"), std::string::npos);
}

TEST(BoxLiftTest, RangesFollowThePaperTable) {
  auto task = MakeBoxLiftTask();
  for (int s = 0; s < 50; ++s) {
    auto inst = task->Generate("20_5", s, 1);
    ASSERT_TRUE(inst.ok());
    for (auto& w : inst->data["boxes"]) EXPECT_TRUE(w >= 30 && w <= 300) << w;
    for (auto& l : inst->data["lifters"]) EXPECT_TRUE(l >= 40 && l <= 160) << l;
  }
}

TEST(BoxLiftTest, ComplexityValidation) {
  auto task = MakeBoxLiftTask();
  EXPECT_TRUE(task->ValidateComplexity("10_3").ok());
  EXPECT_TRUE(task->ValidateComplexity("200_50").ok());
  EXPECT_TRUE(task->ValidateComplexity("1_1").ok());
  for (const char* bad : {"", "10", "0_3", "201_3", "10_51", "10_x", "10_3_1", "-1_3", "a_b"}) {
    EXPECT_FALSE(task->ValidateComplexity(bad).ok()) << bad;
    EXPECT_FALSE(task->Generate(bad, 0, 0).ok()) << bad;
  }
}

TEST(BoxLiftTest, CanonicalAnswerPassesAtEveryLevel) {
  auto task = MakeBoxLiftTask();
  for (const auto& level : task->complexity_levels()) {
    for (int s = 0; s < 20; ++s) {
      auto inst = task->Generate(level, s, 42);
      ASSERT_TRUE(inst.ok());
      Verdict v = task->Check(*inst, "Plan:\n<<<" + inst->canonical_answer + ">>>");
      EXPECT_TRUE(v.correct) << level << " " << v.reason;
      EXPECT_DOUBLE_EQ(v.score, 1.0);
    }
  }
}

TEST(BoxLiftTest, EveryBoxIsLiftableEvenWithOneWeakLifter) {
  auto task = MakeBoxLiftTask();
  for (int s = 0; s < 30; ++s) {
    auto inst = task->Generate("200_1", s, 0);
    ASSERT_TRUE(inst.ok());
    EXPECT_TRUE(task->Check(*inst, "<<<" + inst->canonical_answer + ">>>").correct);
  }
}

TEST(BoxLiftTest, CheckerVerdicts) {
  auto task = MakeBoxLiftTask();
  Instance inst = Fixed(*task, {50, 30, 20}, {40, 30, 20}, 2);
  auto check = [&](const std::string& a) { return task->Check(inst, "<<<" + a + ">>>"); };
  Verdict ok = check("Step 1: [(50, [0, 2]), (30, [1])]\nStep 2: [(20, [2])]");
  EXPECT_TRUE(ok.correct) << ok.reason;
  EXPECT_DOUBLE_EQ(ok.score, 1.0);

  Verdict weak = check("Step 1: [(50, [0]), (30, [1])]\nStep 2: [(20, [2])]");
  EXPECT_FALSE(weak.correct);
  EXPECT_NE(weak.reason.find("cannot lift 50"), std::string::npos) << weak.reason;
  EXPECT_DOUBLE_EQ(weak.score, 0.0);

  Verdict reused = check("Step 1: [(50, [0, 2]), (30, [2])]");
  EXPECT_FALSE(reused.correct);
  EXPECT_NE(reused.reason.find("used twice"), std::string::npos);
  EXPECT_DOUBLE_EQ(reused.score, 0.5);

  Verdict doubled = check("Step 1: [(50, [0, 0])]");
  EXPECT_FALSE(doubled.correct);
  EXPECT_NE(doubled.reason.find("used twice"), std::string::npos);

  Verdict missing = check("Step 1: [(51, [0, 1])]");
  EXPECT_NE(missing.reason.find("no remaining box weighs 51"), std::string::npos);

  Verdict range = check("Step 1: [(20, [3])]");
  EXPECT_NE(range.reason.find("out of range"), std::string::npos);
  EXPECT_FALSE(check("Step 1: [(20, [-1])]").correct);

  Verdict too_many = check("Step 1: [(50, [0, 2])]\nStep 2: [(30, [1])]\nStep 3: [(20, [2])]");
  EXPECT_FALSE(too_many.correct);
  EXPECT_NE(too_many.reason.find("limit is 2"), std::string::npos) << too_many.reason;
  EXPECT_DOUBLE_EQ(too_many.score, 0.8);  // only steps within the limit count

  Verdict partial = check("Step 1: [(50, [0, 2]), (30, [1])]");
  EXPECT_FALSE(partial.correct);
  EXPECT_DOUBLE_EQ(partial.score, 0.8);
  EXPECT_NE(partial.reason.find("1 of 3 boxes not lifted"), std::string::npos);

  Verdict garbled = check("Step 1: [(50, [0, 2])]\nStep 2: [(30, [1]) oops");
  EXPECT_FALSE(garbled.correct);
  EXPECT_NE(garbled.reason.find("step 2: cannot parse"), std::string::npos) << garbled.reason;
  EXPECT_DOUBLE_EQ(garbled.score, 0.5);

  EXPECT_FALSE(task->Check(inst, "").correct);
  EXPECT_FALSE(task->Check(inst, "I cannot do it").correct);
  // Without <<< >>> the whole reply is read; trailing commas and blank steps are fine.
  Verdict loose = task->Check(inst, "Step 1: [(50, [0, 2]), (30, [1]),]\nStep 2: [(20, [2])]");
  EXPECT_TRUE(loose.correct) << loose.reason;
}

}  // namespace
}  // namespace codesweep
