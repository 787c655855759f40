// gsm_hard: GSM-Hard word problems (1,319 items, no complexity). Numeric answer; correct within
// 1e-3 relative (1e-9 absolute near 0), the tolerance the original judge was told to use.
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "jobs/tasks/answer_number.h"
#include "jobs/tasks/common.h"
#include "jobs/tasks/dataset_task.h"
#include "jobs/tasks/factories.h"

namespace codesweep {
namespace {

// The fallback of a reply without <<<>>>: its last non-empty line, when that line holds exactly
// one number (digits joined by ',', '.' or '/'); an ambiguous last line is no answer.
std::optional<std::string_view> LoneNumberLine(std::string_view reply) {
  std::vector<std::string_view> lines = SplitOn(reply, '\n');
  for (size_t i = lines.size(); i-- > 0;) {
    std::string_view line = TrimAscii(lines[i]);
    if (line.empty()) continue;
    int numbers = 0;
    bool in_number = false;
    for (char c : line) {
      const bool digit = c >= '0' && c <= '9';
      if (digit && !in_number) ++numbers;
      in_number = in_number ? (digit || c == ',' || c == '.' || c == '/') : digit;
    }
    if (numbers != 1) return std::nullopt;
    return line;
  }
  return std::nullopt;
}

class GsmHardTask : public DatasetTask {
 public:
  explicit GsmHardTask(DatasetItems items)
      : DatasetTask({.name = "gsm_hard",
                     .description = "GSM-Hard word problems (1,319 items); numeric answer "
                                    "within 1e-3 relative",
                     .levels = {},
                     .format_instruction = "Output the final answer as a single number in the "
                                           "format <<<answer>>>, for example <<<123.42>>>.",
                     .level_rule = ""},
                    std::move(items)) {}

  Verdict Check(const Instance& instance, std::string_view answer) const override {
    Verdict v;
    double target = instance.data.value("target", 0.0);
    std::optional<std::string> inner = LastTripleAngle(answer);
    std::optional<std::string_view> line = inner ? std::nullopt : LoneNumberLine(answer);
    std::optional<double> got =
        inner ? ReadLastNumber(*inner) : (line ? ReadLastNumber(*line) : std::nullopt);
    v.source = inner ? AnswerSource::kTags : (got ? AnswerSource::kFallback : AnswerSource::kNone);
    if (!got) {
      v.reason = inner ? "no finite number inside <<<>>>"
                       : "no <<<answer>>> and no last line holding exactly one number";
      v.parsed = Truncate(inner.value_or(""), 80);
      return v;
    }
    char buf[64];
    std::snprintf(buf, sizeof(buf), "%.17g", *got);
    v.parsed = buf;
    v.correct = NearlyEqual(*got, target, 1e-3, 1e-9);
    v.score = v.correct ? 1.0 : 0.0;
    v.reason = v.correct ? "ok" : "differs from the target by more than 1e-3 relative";
    return v;
  }

  std::string ReferenceSolution(const Instance& instance) const override {
    return "# ORACLE, not a solver: GSM-Hard questions are free text and no generic program\n"
           "# answers them (the dataset's own PAL programs were dropped), so this prints the\n"
           "# dataset's target.\nquestion = " +
           PyStringLiteral(instance.data.value("input", std::string())) +
           "\ntarget = " + instance.data["target"].dump() + "\nprint(f\"<<<{target}>>>\")\n";
  }
};

Result<DatasetRow> ParseRow(const nlohmann::json& r) {
  if (!r.contains("input") || !r["input"].is_string() || !r.contains("target") ||
      !r["target"].is_number()) {
    return Status::Corruption("row without string input / numeric target");
  }
  double t = r["target"].get<double>();
  if (!std::isfinite(t)) return Status::Corruption("non-finite target");
  std::string input = r["input"];
  DatasetItem item{input,
                   r["target"].dump(),
                   {{"id", r.value("id", std::string())}, {"input", input}, {"target", t}}};
  return DatasetRow(std::make_pair(std::string(), std::move(item)));
}

}  // namespace

Result<std::unique_ptr<Task>> MakeGsmHardTask(const std::string& data_dir) {
  CS_ASSIGN_OR_RETURN(DatasetItems items, LoadDataset(data_dir + "/gsm_hard.jsonl", ParseRow));
  return std::unique_ptr<Task>(std::make_unique<GsmHardTask>(std::move(items)));
}

}  // namespace codesweep
