// math_geometry, math_counting_and_probability: MATH train-split problems. Complexity = MATH level
// "1".."5" (items of "Level ?" are not served). The truth is the last \boxed{} of the solution;
// answers are compared by the rule-based equivalence of answer_math.h.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "jobs/tasks/answer_math.h"
#include "jobs/tasks/common.h"
#include "jobs/tasks/factories.h"

namespace codesweep {
namespace {

struct Item {
  std::string id, problem, solution, answer;
};

class MathTask : public Task {
 public:
  MathTask(std::string subject, std::map<std::string, std::vector<Item>> levels)
      : name_("math_" + subject), levels_(std::move(levels)) {
    description_ = "MATH train " + subject + " problems; complexity = MATH level 1..5";
  }
  std::string_view name() const override { return name_; }
  std::string_view description() const override { return description_; }
  std::vector<std::string> complexity_levels() const override { return {"1", "2", "3", "4", "5"}; }
  Status ValidateComplexity(std::string_view c) const override {
    auto it = levels_.find(std::string(c));
    if (it != levels_.end() && !it->second.empty()) return Status::OK();
    return Status::InvalidArgument(name_ + " complexity must be a MATH level 1..5, got '" +
                                   Truncate(c, 20) + "'");
  }
  int64_t InstanceCount(std::string_view c) const override {
    auto it = levels_.find(std::string(c));
    return it == levels_.end() ? 0 : static_cast<int64_t>(it->second.size());
  }

  Result<Instance> Generate(std::string_view complexity, int64_t sample,
                            uint64_t seed) const override {
    CS_RETURN_IF_ERROR(ValidateComplexity(complexity));
    const std::vector<Item>& items = levels_.at(std::string(complexity));
    int64_t n = static_cast<int64_t>(items.size());
    const Item& item = items[static_cast<size_t>(((sample % n) + n) % n)];
    Instance inst;
    inst.task = name_;
    inst.complexity = std::string(complexity);
    inst.sample = sample;
    inst.seed = seed;
    inst.prompt = item.problem +
                  "\nOutput the final answer in the format <<<answer>>>, for example <<<12>>> or "
                  "<<<\\frac{3}{4}>>>.";
    inst.truth = item.answer;
    inst.canonical_answer = item.answer;
    inst.data = {{"id", item.id}, {"problem", item.problem}, {"answer", item.answer}};
    return inst;
  }

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

 private:
  std::string name_, description_;
  std::map<std::string, std::vector<Item>> levels_;
};

}  // namespace

Result<std::unique_ptr<Task>> MakeMathTask(const std::string& data_dir,
                                           const std::string& subject) {
  std::string path = data_dir + "/math/" + subject + ".jsonl";
  CS_ASSIGN_OR_RETURN(std::vector<nlohmann::json> rows, ReadJsonLines(path));
  std::map<std::string, std::vector<Item>> levels;
  for (const auto& r : rows) {
    if (!r.contains("problem") || !r["problem"].is_string() || !r.contains("solution") ||
        !r["solution"].is_string()) {
      return Status::Corruption(path + ": row without problem/solution");
    }
    std::string level = r.value("level", std::string());
    if (level.rfind("Level ", 0) != 0) continue;
    level = level.substr(6);
    if (level.size() != 1 || level[0] < '1' || level[0] > '5') continue;  // "Level ?"
    std::optional<std::string> boxed = LastBoxed(r["solution"].get<std::string>());
    if (!boxed) continue;
    levels[level].push_back({r.value("id", std::string()), r["problem"], r["solution"], *boxed});
  }
  if (levels.empty()) return Status::Corruption(path + ": no items with a level and \\boxed{}");
  return std::unique_ptr<Task>(std::make_unique<MathTask>(subject, std::move(levels)));
}

}  // namespace codesweep
