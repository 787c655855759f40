// Issue 19 §5: sampling covers a dataset (a sample index maps to a seeded permutation of the
// items), every verdict says where its answer came from (<<<>>> or a fallback), and the tasks
// whose questions changed carry a new version.
#include <gtest/gtest.h>

#include <set>
#include <string>

#include "jobs/tasks/common.h"
#include "tests/unit/tasks/a_test_util.h"

namespace codesweep::testing_a {
namespace {

// path_plan used to serve instance i mod 140 in file order, so 20 samples saw environments 0-1.
TEST(Sampling, TwentyPathPlanSamplesSeeManyEnvironmentsStably) {
  const Task& task = TaskNamed("path_plan");
  std::set<int64_t> envs;
  for (int64_t s = 0; s < 20; ++s) {
    Result<Instance> a = task.Generate("", s, 42), b = task.Generate("", s, 42);
    ASSERT_TRUE(a.ok() && b.ok());
    EXPECT_EQ(a->prompt, b->prompt) << "sample " << s << " is not stable";
    envs.insert(a->data.value("env_index", int64_t{-1}));
  }
  EXPECT_GE(envs.size(), 8u) << "20 samples see only " << envs.size() << " environments";
}

// Every task with a finite item list: the first n samples are the n items, each once; the order
// depends on the seed; sample n + k is sample k again.
TEST(Sampling, EveryDatasetTaskServesAPermutation) {
  for (const auto& task : Registry().tasks()) {
    std::vector<std::string> levels = task->complexity_levels();
    if (levels.empty()) levels.push_back("");
    const std::string& level = levels.front();
    const int64_t n = task->InstanceCount(level);
    if (n <= 0) continue;  // synthesized: every sample is its own seeded instance
    std::set<std::string> seen;
    bool same_order = true;
    for (int64_t s = 0; s < n; ++s) {
      Result<Instance> a = task->Generate(level, s, 1), b = task->Generate(level, s, 2);
      ASSERT_TRUE(a.ok() && b.ok()) << task->name();
      seen.insert(a->prompt + "\x1f" + a->data.dump());
      same_order = same_order && a->prompt == b->prompt;
    }
    EXPECT_EQ(static_cast<int64_t>(seen.size()), n) << task->name() << " repeats an item";
    EXPECT_FALSE(same_order) << task->name() << ": the seed does not change the order";
    EXPECT_EQ(task->Generate(level, n + 3, 1)->prompt, task->Generate(level, 3, 1)->prompt)
        << task->name();
    // Not the file order: sample 1 is not simply the item after sample 0's.
    EXPECT_NE(PermutedItem(task->name(), level, 0, 1, static_cast<size_t>(n)) + 1,
              PermutedItem(task->name(), level, 1, 1, static_cast<size_t>(n)))
        << task->name();
  }
}

TEST(AnswerSource, EveryTaskSaysWhereItsAnswerCameFrom) {
  for (const auto& task : Registry().tasks()) {
    std::vector<std::string> levels = task->complexity_levels();
    Result<Instance> inst = task->Generate(levels.empty() ? "" : levels.front(), 0, 7);
    ASSERT_TRUE(inst.ok()) << task->name();
    if (inst->canonical_answer.empty()) continue;
    Verdict tagged = task->Check(*inst, "<<<" + inst->canonical_answer + ">>>");
    EXPECT_TRUE(tagged.correct) << task->name();
    EXPECT_EQ(tagged.source, AnswerSource::kTags) << task->name();
    EXPECT_EQ(task->Check(*inst, "<<<>>>").source, AnswerSource::kTags) << task->name();
    EXPECT_EQ(task->Check(*inst, "").source, AnswerSource::kNone) << task->name();
    Verdict bare = task->Check(*inst, inst->canonical_answer);
    if (bare.correct) {
      EXPECT_EQ(bare.source, AnswerSource::kFallback) << task->name();
    }
  }
  EXPECT_EQ(AnswerSourceName(AnswerSource::kTags), "tags");
  EXPECT_EQ(AnswerSourceName(AnswerSource::kFallback), "fallback");
  EXPECT_EQ(AnswerSourceName(AnswerSource::kNone), "none");
}

TEST(AnswerSource, UnambiguousYesNoAndOptionFallbacksStillCount) {
  const Task& yn = TaskNamed("bbh_web_of_lies");
  const Task& mc = TaskNamed("bbh_date_understanding");
  for (int64_t s = 0; s < 30; ++s) {
    Instance a = *yn.Generate("", s, 0);
    const std::string target = a.canonical_answer;
    for (const std::string& reply :
         {"Step by step, he lies.\nSo the answer is " + target + ".", "**" + target + "**",
          "Reasoning, reasoning.\n\nAnswer: " + target}) {
      Verdict v = yn.Check(a, reply);
      EXPECT_TRUE(v.correct) << reply << ": " << v.reason;
      EXPECT_EQ(v.source, AnswerSource::kFallback) << reply;
    }
    Instance b = *mc.Generate("", s, 0);
    const std::string letter = b.canonical_answer;
    for (const std::string& reply :
         {"(A) is wrong, (C) too.\nThe answer is " + letter + ".", "Answer: " + letter, letter}) {
      Verdict v = mc.Check(b, reply);
      EXPECT_TRUE(v.correct) << reply << ": " << v.reason;
      EXPECT_EQ(v.source, AnswerSource::kFallback) << reply;
    }
  }
}

TEST(TaskVersion, ChangedTasksAreVersionTwo) {
  for (const char* name :
       {"game24", "letters", "path_plan", "gsm_hard", "math_geometry",
        "math_counting_and_probability", "bbh_date_understanding", "bbh_web_of_lies",
        "bbh_logical_deduction_seven_objects", "bbh_navigate"}) {
    EXPECT_EQ(TaskVersion(name), 2) << name;
  }
  for (const char* name : {"number_multiply", "blocksworld", "boxlift", "boxnet", "unknown"}) {
    EXPECT_EQ(TaskVersion(name), 1) << name;
  }
}

}  // namespace
}  // namespace codesweep::testing_a
