// A tiny Task for sweep and grid tests: levels "1".."3", answer = level * sample.
#pragma once

#include <string>

#include "jobs/tasks/task.h"

namespace codesweep {

class FakeTask final : public Task {
 public:
  std::string_view name() const override { return "fake"; }
  std::string_view description() const override { return "test task"; }
  std::vector<std::string> complexity_levels() const override { return {"1", "2", "3"}; }
  Status ValidateComplexity(std::string_view c) const override {
    if (c == "1" || c == "2" || c == "3") return Status::OK();
    return Status::InvalidArgument("level must be 1, 2 or 3");
  }
  int64_t InstanceCount(std::string_view) const override { return -1; }
  Result<Instance> Generate(std::string_view c, int64_t sample, uint64_t seed) const override {
    Instance i;
    i.task = "fake";
    i.complexity = std::string(c);
    i.sample = sample;
    i.seed = seed;
    i.truth = std::to_string(std::stoi(std::string(c)) * sample);
    i.canonical_answer = i.truth;
    i.prompt = "What is " + std::string(c) + "*" + std::to_string(sample) + "?";
    return i;
  }
  Verdict Check(const Instance& i, std::string_view answer) const override {
    Verdict v;
    v.correct = answer.find("<<<" + i.truth + ">>>") != std::string_view::npos;
    v.score = v.correct ? 1 : 0;
    v.reason = v.correct ? "ok" : "wrong";
    return v;
  }
  std::string ReferenceSolution(const Instance& i) const override {
    return "print('<<<" + i.truth + ">>>')\n";
  }
};

}  // namespace codesweep
