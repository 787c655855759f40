// A tiny deterministic Task for the sim and methods unit tests: "what is a + b?". The real tasks
// live in jobs/tasks and are tested there; these tests need a task whose answers they control.
// Stateless; safe from any thread.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/hash.h"
#include "jobs/tasks/task.h"

namespace codesweep::testing {

class FakeSumTask final : public Task {
 public:
  // with_canonical = false: the task offers no canonical answer (only code can solve it).
  explicit FakeSumTask(bool with_canonical = true) : with_canonical_(with_canonical) {}

  std::string_view name() const override { return "fake_sum"; }
  std::string_view description() const override { return "adds two numbers (tests only)"; }
  std::vector<std::string> complexity_levels() const override { return {"1", "2", "3"}; }
  Status ValidateComplexity(std::string_view c) const override {
    if (c == "1" || c == "2" || c == "3") return Status::OK();
    return Status::InvalidArgument("bad complexity");
  }
  int64_t InstanceCount(std::string_view) const override { return -1; }

  Result<Instance> Generate(std::string_view complexity, int64_t sample,
                            uint64_t seed) const override {
    if (!ValidateComplexity(complexity).ok()) return Status::InvalidArgument("bad complexity");
    Rng rng(seed * 1000003ULL + static_cast<uint64_t>(sample));
    int64_t a = rng.Uniform(10, 999), b = rng.Uniform(10, 999);
    Instance in;
    in.task = "fake_sum";
    in.complexity = std::string(complexity);
    in.sample = sample;
    in.seed = seed;
    in.prompt = "What is " + std::to_string(a) + " + " + std::to_string(b) +
                "? Give the answer as <<<number>>>.";
    in.truth = std::to_string(a + b);
    if (with_canonical_) in.canonical_answer = in.truth;
    in.data = {{"a", a}, {"b", b}};
    return in;
  }

  Verdict Check(const Instance& instance, std::string_view answer) const override {
    Verdict v;
    size_t open = answer.rfind("<<<");
    size_t close = open == std::string_view::npos ? open : answer.find(">>>", open);
    if (close == std::string_view::npos) {
      v.reason = "no <<<answer>>> found";
      return v;
    }
    v.parsed = std::string(answer.substr(open + 3, close - open - 3));
    v.correct = v.parsed == instance.truth;
    v.score = v.correct ? 1.0 : 0.0;
    v.reason = v.correct ? "ok" : "wrong sum";
    return v;
  }

  std::string ReferenceSolution(const Instance& instance) const override {
    return "a = " + instance.data["a"].dump() + "\nb = " + instance.data["b"].dump() +
           "\nprint(f'<<<{a + b}>>>')\n";
  }

 private:
  bool with_canonical_;
};

}  // namespace codesweep::testing
