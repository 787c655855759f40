// gsm_hard: GSM-Hard word problems (1,319 items, no complexity). Numeric answer; correct within
// 1e-3 relative (1e-9 absolute near 0), the tolerance the original judge was told to use.
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "jobs/tasks/answer_number.h"
#include "jobs/tasks/common.h"
#include "jobs/tasks/factories.h"

namespace codesweep {
namespace {

struct Item {
  std::string id, input;
  double target = 0;
  std::string target_text;
};

class GsmHardTask : public Task {
 public:
  explicit GsmHardTask(std::vector<Item> items) : items_(std::move(items)) {}
  std::string_view name() const override { return "gsm_hard"; }
  std::string_view description() const override {
    return "GSM-Hard word problems (1,319 items); numeric answer within 1e-3 relative";
  }
  std::vector<std::string> complexity_levels() const override { return {}; }
  Status ValidateComplexity(std::string_view c) const override {
    if (c.empty()) return Status::OK();
    return Status::InvalidArgument("gsm_hard has no complexity levels (use \"\")");
  }
  int64_t InstanceCount(std::string_view) const override {
    return static_cast<int64_t>(items_.size());
  }

  Result<Instance> Generate(std::string_view complexity, int64_t sample,
                            uint64_t seed) const override {
    CS_RETURN_IF_ERROR(ValidateComplexity(complexity));
    int64_t n = static_cast<int64_t>(items_.size());
    const Item& item = items_[static_cast<size_t>(((sample % n) + n) % n)];
    Instance inst;
    inst.task = std::string(name());
    inst.sample = sample;
    inst.seed = seed;
    inst.prompt = item.input +
                  "\nOutput the final answer as a single number in the format <<<answer>>>, "
                  "for example <<<123.42>>>.";
    inst.truth = item.target_text;
    inst.canonical_answer = item.target_text;
    inst.data = {{"id", item.id}, {"input", item.input}, {"target", item.target}};
    return inst;
  }

  Verdict Check(const Instance& instance, std::string_view answer) const override {
    Verdict v;
    double target = instance.data.value("target", 0.0);
    std::optional<std::string> inner = LastTripleAngle(answer);
    std::optional<double> got = ReadLastNumber(inner ? std::string_view(*inner) : answer);
    if (!got) {
      v.reason = inner ? "no finite number inside <<<>>>" : "no <<<answer>>> and no number";
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

 private:
  std::vector<Item> items_;
};

}  // namespace

Result<std::unique_ptr<Task>> MakeGsmHardTask(const std::string& data_dir) {
  std::string path = data_dir + "/gsm_hard.jsonl";
  CS_ASSIGN_OR_RETURN(std::vector<nlohmann::json> rows, ReadJsonLines(path));
  std::vector<Item> items;
  for (const auto& r : rows) {
    if (!r.contains("input") || !r["input"].is_string() || !r.contains("target") ||
        !r["target"].is_number()) {
      return Status::Corruption(path + ": row without string input / numeric target");
    }
    double t = r["target"].get<double>();
    if (!std::isfinite(t)) return Status::Corruption(path + ": non-finite target");
    items.push_back({r.value("id", std::string()), r["input"], t, r["target"].dump()});
  }
  if (items.empty()) return Status::Corruption(path + ": no items");
  return std::unique_ptr<Task>(std::make_unique<GsmHardTask>(std::move(items)));
}

}  // namespace codesweep
