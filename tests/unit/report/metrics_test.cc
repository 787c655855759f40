// Metrics against the paper: Wilson intervals, GPT-4o Table 1 -> Ave. Norm. row (PAPER.md §6.2),
// Table 2's average score and average rank columns (§6.1), and the rank tie rule.
#include "report/metrics.h"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

namespace codesweep::metrics {
namespace {

const std::vector<std::string> kMethods = {"OQ",  "AT", "AC",  "ACC", "AGC",
                                           "AGS", "CI", "CI+", "CTS", "SES"};

// PAPER.md §6.2, GPT-4o: one row per task, columns in kMethods order.
const std::vector<std::pair<std::string, std::vector<double>>> kGpt4oTable1 = {
    {"Num. Multi.", {37, 38, 100, 100, 100, 33, 84, 100, 99, 91}},
    {"Game 24", {17, 23, 5, 11, 88, 18, 18, 63, 33, 66}},
    {"Path Plan", {65, 44, 71, 76, 79, 73, 54, 46, 66, 71}},
    {"Letters", {24, 71, 100, 100, 100, 24, 89, 95, 98, 93}},
    {"BoxLift", {69, 57, 30, 68, 21, 64, 50, 59, 65, 34}},
    {"BoxNet", {37, 30, 37, 1, 12, 33, 37, 21, 23, 25}},
    {"Blocksworld", {43, 52, 40, 32, 50, 44, 42, 49, 50, 50}},
    {"Date Unde.", {90, 88, 64, 72, 65, 88, 76, 80, 86, 81}},
    {"Web of Lies", {96, 86, 79, 91, 78, 96, 94, 74, 77, 88}},
    {"Logi. Dedu.", {89, 91, 79, 83, 82, 87, 82, 87, 94, 82}},
    {"Navigate", {98, 95, 94, 99, 91, 97, 98, 97, 96, 99}},
    {"GSM-Hard", {78, 80, 82, 83, 81, 78, 79, 78, 81, 79}},
    {"MATH Geo.", {76, 73, 68, 74, 73, 74, 73, 70, 77, 72}},
    {"MATH Count.", {89, 87, 84, 88, 91, 89, 89, 89, 86, 90}},
};
const std::vector<double> kGpt4oAveNorm = {80.6, 79.9, 80.3, 80.4, 84.5,
                                           79.4, 83.5, 85.7, 88.2, 86.9};
// PAPER.md §5: the same row recomputed from the rounded Table 1 integers.
const std::vector<double> kGpt4oRecomputed = {80.7, 80.1, 80.6, 80.5, 84.6,
                                              79.5, 83.7, 85.8, 88.2, 87.0};

TaskMethodScores Gpt4oScores() {
  TaskMethodScores scores;
  for (const auto& [task, row] : kGpt4oTable1) {
    for (size_t i = 0; i < kMethods.size(); ++i) scores[task][kMethods[i]] = row[i];
  }
  return scores;
}

TEST(WilsonTest, KnownValues) {
  Interval half = Wilson(50, 100);
  EXPECT_NEAR(half.lo, 0.4038, 5e-4);
  EXPECT_NEAR(half.hi, 0.5962, 5e-4);
  Interval none = Wilson(0, 10);
  EXPECT_DOUBLE_EQ(none.lo, 0.0);
  EXPECT_NEAR(none.hi, 0.2775, 5e-4);
  Interval all = Wilson(10, 10);
  EXPECT_NEAR(all.lo, 0.7225, 5e-4);
  EXPECT_DOUBLE_EQ(all.hi, 1.0);
  Interval empty = Wilson(0, 0);
  EXPECT_DOUBLE_EQ(empty.lo, 0.0);
  EXPECT_DOUBLE_EQ(empty.hi, 1.0);
}

TEST(WilsonTest, NarrowsWithSamplesAndContainsEstimate) {
  Interval small = Wilson(3, 10), large = Wilson(300, 1000);
  EXPECT_LT(large.hi - large.lo, small.hi - small.lo);
  EXPECT_LT(small.lo, 0.3);
  EXPECT_GT(small.hi, 0.3);
}

TEST(NormalizedScoreTest, ReproducesGpt4oAveNormRow) {
  std::map<std::string, double> got = AverageNormalizedScores(Gpt4oScores());
  ASSERT_EQ(got.size(), kMethods.size());
  for (size_t i = 0; i < kMethods.size(); ++i) {
    // Exactly PAPER.md §5's recomputation (to its one decimal) ...
    EXPECT_NEAR(got[kMethods[i]], kGpt4oRecomputed[i], 0.05) << kMethods[i];
    // ... and the printed row within rounding of the unrounded rates the paper averaged. All
    // Code is the widest gap (printed 80.3, recomputed 80.55), so the bound is 0.3, not 0.25.
    EXPECT_NEAR(got[kMethods[i]], kGpt4oAveNorm[i], i == 2 ? 0.3 : 0.25) << kMethods[i];
  }
}

TEST(NormalizedScoreTest, SkipsTasksWhoseBestIsZeroAndMissingMethods) {
  TaskMethodScores s;
  s["a"] = {{"x", 50}, {"y", 100}};
  s["b"] = {{"x", 0}, {"y", 0}};  // says nothing: left out
  s["c"] = {{"x", 40}};           // y not run on c
  std::map<std::string, double> got = AverageNormalizedScores(s);
  EXPECT_DOUBLE_EQ(got["x"], 75.0);   // (0.5 + 1.0) / 2
  EXPECT_DOUBLE_EQ(got["y"], 100.0);  // over task a only
}

TEST(RankTest, TiesShareTheBetterRank) {
  std::map<std::string, int> r = Ranks({{"a", 90}, {"b", 80}, {"c", 90}, {"d", 70}});
  EXPECT_EQ(r["a"], 1);
  EXPECT_EQ(r["c"], 1);
  EXPECT_EQ(r["b"], 3);
  EXPECT_EQ(r["d"], 4);
  EXPECT_EQ(Ranks({{"a", 80.04}, {"b", 80.01}}, 1)["b"], 1);
}

// PAPER.md §6.1 (Table 2): per model, the normalized scores; NA = absent.
TEST(SummaryTest, ReproducesTable2AverageScoreAndRank) {
  const std::vector<std::vector<double>> table2 = {
      // GPT-4o, mini, GPT-3.5, O1, Claude, Mixtral; -1 = NA
      {80.6, 67.6, 65.3, 88.2, 71.5, 63.4}, {79.9, 75.9, 65.3, 81.9, 72.0, 68.0},
      {80.3, 77.4, 68.1, 93.3, 74.7, 69.2}, {80.4, 76.6, 64.0, 92.8, 81.0, 67.3},
      {84.5, 71.8, 64.6, 83.9, 74.0, 70.8}, {79.4, 68.2, 55.5, -1, 71.1, 64.1},
      {83.5, 80.8, 64.5, -1, -1, -1},       {85.7, 79.0, 58.5, -1, -1, -1},
      {88.1, 85.0, 63.9, 90.2, 76.2, 73.6}, {86.9, 76.5, 59.2, 75.2, 69.4, 49.0},
  };
  const std::vector<double> avg_score = {72.8, 73.9, 77.2, 77.1, 74.8,
                                         67.7, 76.3, 74.5, 79.5, 69.4};
  const std::vector<double> avg_rank = {5.83, 5.50, 3.33, 4.33, 4.50, 8.33, 6.33, 6.83, 2.50, 6.50};
  std::vector<std::map<std::string, double>> per_model(6);
  for (size_t m = 0; m < kMethods.size(); ++m) {
    for (size_t model = 0; model < 6; ++model) {
      if (table2[m][model] >= 0) per_model[model][kMethods[m]] = table2[m][model];
    }
  }
  std::map<std::string, MethodSummary> got = Summarize(kMethods, per_model);
  for (size_t m = 0; m < kMethods.size(); ++m) {
    const MethodSummary& s = got[kMethods[m]];
    ASSERT_TRUE(s.avg_score.has_value()) << kMethods[m];
    // Table 2 averaged unrounded scores; from its printed one-decimal cells the mean moves by up
    // to 0.14 (AutoGen Conca.: 74.93 vs 74.8).
    EXPECT_NEAR(*s.avg_score, avg_score[m], 0.15) << kMethods[m];
    EXPECT_NEAR(s.avg_rank, avg_rank[m], 0.005) << kMethods[m];
  }
  EXPECT_EQ(got["CI"].models_run, 3);
  EXPECT_EQ(got["AGS"].models_run, 5);
}

}  // namespace
}  // namespace codesweep::metrics
