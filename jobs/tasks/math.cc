// math_geometry, math_counting_and_probability: MATH train-split problems. Complexity = MATH level
// "1".."5" (items of "Level ?" are not served). The truth is the last \boxed{} of the solution;
// answers are compared by the rule-based equivalence of answer_math.h.
#include <cstdint>
#include <string>
#include <vector>

#include "jobs/tasks/answer_math.h"
#include "jobs/tasks/common.h"
#include "jobs/tasks/dataset_task.h"
#include "jobs/tasks/factories.h"

namespace codesweep {
namespace {

class MathTask : public DatasetTask {
 public:
  MathTask(const std::string& subject, DatasetItems levels)
      : DatasetTask({.name = "math_" + subject,
                     .description = "MATH train " + subject +
                                    " problems; complexity = MATH "
                                    "level 1..5",
                     .levels = {"1", "2", "3", "4", "5"},
                     .format_instruction = "Output the final answer in the format <<<answer>>>, "
                                           "for example <<<12>>> or <<<\\frac{3}{4}>>>.",
                     .level_rule = "a MATH level 1..5"},
                    std::move(levels)) {}

  Verdict Check(const Instance& instance, std::string_view answer) const override {
    Verdict v;
    std::string truth = instance.data.value("answer", std::string());
    std::optional<std::string> got = LastTripleAngle(answer);
    bool fallback = false;
    if (!got) {
      got = LastBoxed(answer);
      fallback = true;
    } else if (auto inner_box = LastBoxed(*got)) {
      got = inner_box;
    }
    if (!got) {
      v.reason = "no <<<answer>>> and no \\boxed{}";
      return v;
    }
    v.source = fallback ? AnswerSource::kFallback : AnswerSource::kTags;
    v.parsed = Truncate(NormalizeMathAnswer(*got), 120);
    v.correct = MathEquivalent(*got, truth);
    v.score = v.correct ? 1.0 : 0.0;
    v.reason = v.correct ? "ok" : "not equivalent to " + Truncate(truth, 80);
    if (fallback) v.reason += " (no <<<>>>; read the last \\boxed{})";
    return v;
  }

  std::string ReferenceSolution(const Instance& instance) const override {
    return "# ORACLE, not a solver: MATH problems need bespoke reasoning and no generic program\n"
           "# solves them, so this prints the answer boxed in the dataset's solution.\n"
           "problem = " +
           PyStringLiteral(instance.data.value("problem", std::string())) +
           "\nanswer = " + PyStringLiteral(instance.data.value("answer", std::string())) +
           "\nprint(\"<<<\" + answer + \">>>\")\n";
  }
};

// A row with "level": "Level N" (N in 1..5) and a \boxed{} answer in its solution; others
// ("Level ?", no box) are skipped.
Result<DatasetRow> ParseRow(const nlohmann::json& r) {
  if (!r.contains("problem") || !r["problem"].is_string() || !r.contains("solution") ||
      !r["solution"].is_string()) {
    return Status::Corruption("row without problem/solution");
  }
  std::string level = r.value("level", std::string());
  if (level.rfind("Level ", 0) != 0) return DatasetRow();
  level = level.substr(6);
  if (level.size() != 1 || level[0] < '1' || level[0] > '5') return DatasetRow();  // "Level ?"
  std::optional<std::string> boxed = LastBoxed(r["solution"].get<std::string>());
  if (!boxed) return DatasetRow();
  std::string problem = r["problem"];
  DatasetItem item{
      problem,
      *boxed,
      {{"id", r.value("id", std::string())}, {"problem", problem}, {"answer", *boxed}}};
  return DatasetRow(std::make_pair(level, std::move(item)));
}

}  // namespace

Result<std::unique_ptr<Task>> MakeMathTask(const std::string& data_dir,
                                           const std::string& subject) {
  CS_ASSIGN_OR_RETURN(DatasetItems levels, LoadDataset(data_dir + "/math/" + subject + ".jsonl",
                                                       ParseRow, " with a level and \\boxed{}"));
  return std::unique_ptr<Task>(std::make_unique<MathTask>(subject, std::move(levels)));
}

}  // namespace codesweep
