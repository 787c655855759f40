#include <gtest/gtest.h>

#include "jobs/tasks/factories.h"
#include "jobs/tasks/plan_geometry.h"

namespace codesweep {
namespace {

std::unique_ptr<Task> PathPlan() {
  auto task = MakePathPlanTask(DefaultDataDir());
  EXPECT_TRUE(task.ok()) << task.status().ToString();
  return task.ok() ? std::move(task).value() : nullptr;
}

// Instance k (environment k / 10, instruction k % 10) as served at `seed`: the sample that maps
// to it through the seeded permutation.
Result<Instance> InstanceNumber(const Task& task, int k, uint64_t seed) {
  for (int64_t s = 0; s < 140; ++s) {
    Result<Instance> inst = task.Generate("", s, seed);
    if (inst.ok() && inst->data["env_index"] == k / 10 && inst->data["instruction_index"] == k % 10)
      return inst;
  }
  return Status::NotFound("no sample serves instance " + std::to_string(k));
}

TEST(PlanGeometryTest, TouchingCountsAndMissingDoesNot) {
  Rect r = {0, 1, 0, 1};
  EXPECT_TRUE(SegmentTouchesRect({-1, 0.5}, {2, 0.5}, r));     // crosses
  EXPECT_TRUE(SegmentTouchesRect({0.2, 0.2}, {0.8, 0.8}, r));  // entirely inside
  EXPECT_TRUE(SegmentTouchesRect({-1, 1}, {2, 1}, r));         // runs along the top edge
  EXPECT_TRUE(SegmentTouchesRect({-1, 2}, {1, 0 + 1}, r));     // ends on a corner
  EXPECT_TRUE(SegmentTouchesRect({1, 1}, {1, 1}, r));          // a point on the corner
  EXPECT_FALSE(SegmentTouchesRect({-1, 1.001}, {2, 1.001}, r));
  EXPECT_FALSE(SegmentTouchesRect({-1, 0.5}, {-0.001, 0.5}, r));
  EXPECT_FALSE(SegmentTouchesRect({2, 2}, {2, 2}, r));
  EXPECT_TRUE(SegmentTouchesRect({-1, 1.001}, {2, 1.001}, r, 0.01));
}

TEST(PathPlanTest, LoadsAll140InstancesDeterministically) {
  auto task = PathPlan();
  ASSERT_TRUE(task);
  EXPECT_EQ(task->InstanceCount(""), 140);
  EXPECT_TRUE(task->complexity_levels().empty());
  EXPECT_FALSE(task->ValidateComplexity("1").ok());
  auto a = InstanceNumber(*task, 37, 1);
  ASSERT_TRUE(a.ok());
  auto b = task->Generate("", a->sample + 140, 1);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(a->prompt, b->prompt);
  EXPECT_EQ(a->data, b->data);
  EXPECT_EQ(a->data["env_index"], 3);
  EXPECT_EQ(a->data["instruction_index"], 7);
  EXPECT_EQ(task->Generate("", -1, 0)->data, task->Generate("", 139, 0)->data);
  EXPECT_NE(a->prompt.find("a yellow colored box (-1, -0.7, -0.25, 0.5)"), std::string::npos)
      << a->prompt;
  EXPECT_NE(a->prompt.find("(-1.5, -1.4, -1.5, 1.5)"), std::string::npos);
  EXPECT_NE(a->prompt.find(
                "Navigate into the green room and go to the yellow room and go to the red room."),
            std::string::npos);
  EXPECT_NE(a->prompt.find("<<<"), std::string::npos);
}

TEST(PathPlanTest, CanonicalPlanPassesEveryInstance) {
  auto task = PathPlan();
  ASSERT_TRUE(task);
  for (int i = 0; i < 140; ++i) {
    auto inst = task->Generate("", i, 0);
    ASSERT_TRUE(inst.ok());
    ASSERT_FALSE(inst->canonical_answer.empty()) << i;
    Verdict v = task->Check(*inst, "<<<" + inst->canonical_answer + ">>>");
    EXPECT_TRUE(v.correct) << i << ": " << v.reason << "\n" << inst->canonical_answer;
  }
}

// Environment 0: start (-1.3, -1.3), end (1.3, 1.3); blue [-0.5, 0.5]^2; green
// [0.2, 0.7, 0.8, 1.2]; yellow [-1, -0.7, -0.25, 0.5]; pink [-1.2, 0, 0.6, 0.9].
TEST(PathPlanTest, CheckerVerdicts) {
  auto task = PathPlan();
  ASSERT_TRUE(task);
  auto inst0 = InstanceNumber(*task, 0, 0);  // enter green and yellow
  auto inst5 = InstanceNumber(*task, 5, 0);  // enter green and yellow, never pink
  ASSERT_TRUE(inst0.ok() && inst5.ok());
  auto check = [&](const Instance& inst, const std::string& a) {
    return task->Check(inst, "<<<" + a + ">>>");
  };
  const std::string good =
      "[(-1.3, -1.3), (-1.3, -0.25), (-0.85, 0.0), (-0.85, 0.55), (0.45, 0.55), "
      "(0.45, 1.0), (1.3, 1.3)]";
  Verdict ok = check(*inst0, good);
  EXPECT_TRUE(ok.correct) << ok.reason;
  EXPECT_DOUBLE_EQ(ok.score, 1.0);
  // The same path passes through pink's bottom edge (y = 0.6)? No: it stays at y = 0.55.
  EXPECT_TRUE(check(*inst5, good).correct);
  // Touching pink's bottom edge counts as entering it.
  Verdict touch = check(*inst5,
                        "[(-1.3, -1.3), (-1.3, -0.25), (-0.85, 0.0), (-0.85, 0.6), "
                        "(0.45, 0.6), (0.45, 1.0), (1.3, 1.3)]");
  EXPECT_FALSE(touch.correct);
  EXPECT_NE(touch.reason.find("forbidden pink"), std::string::npos) << touch.reason;
  // Brackets for points, a trailing comma and text around the answer are fine.
  EXPECT_TRUE(check(*inst0,
                    "[[-1.3, -1.3], [-1.3, -0.25], [-0.85, 0.0], [-0.85, 0.55], "
                    "[0.45, 0.55], [0.45, 1.0], [1.3, 1.3],]")
                  .correct);
  Verdict wall = check(*inst0, "[(-1.3, -1.3), (-1.45, 0.0), (1.3, 1.3)]");
  EXPECT_NE(wall.reason.find("touches a wall"), std::string::npos) << wall.reason;
  Verdict along_wall = check(*inst0, "[(-1.3, -1.3), (-1.4, -1.3), (1.3, 1.3)]");
  EXPECT_NE(along_wall.reason.find("touches a wall"), std::string::npos);
  Verdict miss = check(*inst0, "[(-1.3, -1.3), (1.3, -1.3), (1.3, 1.3)]");
  EXPECT_NE(miss.reason.find("never enters"), std::string::npos) << miss.reason;
  Verdict start = check(*inst0, "[(-1.2, -1.3), (1.3, 1.3)]");
  EXPECT_NE(start.reason.find("first waypoint"), std::string::npos);
  Verdict end = check(*inst0, "[(-1.3, -1.3), (1.3, 1.2)]");
  EXPECT_NE(end.reason.find("last waypoint"), std::string::npos);
  EXPECT_NE(check(*inst0, "[(-1.3, -1.3)]").reason.find("fewer than 2"), std::string::npos);
  EXPECT_FALSE(check(*inst0, "[(-1.3, -1.3), (nan, 0), (1.3, 1.3)]").correct);
  EXPECT_FALSE(check(*inst0, "[(-1.3, -1.3), (1e999, 0), (1.3, 1.3)]").correct);
  EXPECT_FALSE(check(*inst0, "[(-1.3, -1.3), (1.3, 1.3)] and more").correct);
  EXPECT_FALSE(check(*inst0, "").correct);
  EXPECT_FALSE(task->Check(*inst0, "no answer").correct);
  // Within 1e-9 of the start still counts as the start.
  EXPECT_TRUE(check(*inst0,
                    "[(-1.3000000000001, -1.3), (-1.3, -0.25), (-0.85, 0.0), (-0.85, 0.55), "
                    "(0.45, 0.55), (0.45, 1.0), (1.3, 1.3)]")
                  .correct);
  // Without <<< >>> the last list in the reply is read.
  EXPECT_TRUE(task->Check(*inst0, "Here: " + good + " done").correct);
}

}  // namespace
}  // namespace codesweep
