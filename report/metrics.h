// The paper's metrics (PAPER.md §5) as pure functions: Wilson score intervals, the average
// normalized score of each method on one model, ranks with ties sharing the better rank, and the
// cross-model summary (average score over models run, average rank with NA = tested + 1).
// The same formulas are the SQL views of report/sql/0002_report_views.sql. No state; any thread.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace codesweep::metrics {

inline constexpr double kZ95 = 1.959964;  // two-sided 95 % normal quantile

struct Interval {
  double lo = 0, hi = 0;  // fractions in [0, 1]
};

// Wilson score interval for `successes` out of `n` (n == 0 gives [0, 1]).
Interval Wilson(int64_t successes, int64_t n, double z = kZ95);

// Scores of one model: score[task][method] in %, absent where the method was not run on the task.
using TaskMethodScores = std::map<std::string, std::map<std::string, double>>;

// Average normalized score (%) per method run on the model: 100 x the mean over tasks of
// score(task, method) / max over methods of score(task, .). Tasks whose best score is 0 are
// left out; a method's mean is over the tasks it was run on.
std::map<std::string, double> AverageNormalizedScores(const TaskMethodScores& scores);

// Rank per method: 1 + the number of methods with a strictly higher score (ties share the
// better rank). Scores are compared after rounding to `decimals` places when decimals >= 0
// (the paper ranks its printed one-decimal numbers).
std::map<std::string, int> Ranks(const std::map<std::string, double>& scores, int decimals = -1);

struct MethodSummary {
  std::optional<double> avg_score;  // mean over the models the method ran on
  double avg_rank = 0;              // mean over all models; NA counts as tested + 1
  int models_run = 0;
};

// `per_model[m]` holds the average normalized scores of the methods run on model m.
std::map<std::string, MethodSummary> Summarize(
    const std::vector<std::string>& methods,
    const std::vector<std::map<std::string, double>>& per_model, int rank_decimals = -1);

}  // namespace codesweep::metrics
