// The dataset tasks (gsm_hard, math_*, bbh_*) are pinned as a whole: a SHA-256 over everything
// they show the outside, for every item of every level (prompts, truths, data, reference
// programs, complexity errors, verdicts on fixed answers). The values were computed with the
// task classes as they were before they shared DatasetTask, so that refactoring, or any later
// one, cannot change a prompt or a check unnoticed. A deliberate change updates the value.
// Updated for issue 19 §5 (task version 2): every item served through a seeded permutation, the
// unambiguous bbh fallbacks and gsm_hard's lone-number last line.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "base/hash.h"
#include "tests/unit/tasks/a_test_util.h"

namespace codesweep::testing_a {
namespace {

// Everything a dataset task shows the outside, over every item of every level: name,
// description, levels, complexity errors, counts, each instance's prompt, truth, canonical
// answer, data and reference program, and the verdicts on a fixed set of answers.
inline std::string DatasetTaskFingerprint(const codesweep::Task& task) {
  using codesweep::Instance;
  using codesweep::Verdict;
  std::string out;
  auto add = [&](const std::string& s) { out += s + '\x1f'; };
  add(std::string(task.name()));
  add(std::string(task.description()));
  std::vector<std::string> levels = task.complexity_levels();
  for (const std::string& l : levels) add(l);
  for (const char* c : {"", "0", "1", "5", "6", "?", "Level 1"}) {
    add(task.ValidateComplexity(c).ToString());
    add(std::to_string(task.InstanceCount(c)));
  }
  if (levels.empty()) levels.push_back("");
  for (const std::string& level : levels) {
    const int64_t n = task.InstanceCount(level);
    for (int64_t sample = -1; sample <= n; ++sample) {
      codesweep::Result<Instance> inst = task.Generate(level, sample, 42);
      if (!inst.ok()) {
        add(inst.status().ToString());
        continue;
      }
      add(inst->task + "|" + inst->complexity + "|" + std::to_string(inst->sample) + "|" +
          std::to_string(inst->seed));
      add(inst->prompt);
      add(inst->truth);
      add(inst->canonical_answer);
      add(inst->data.dump());
      add(task.ReferenceSolution(*inst));
      for (const std::string& answer :
           {"<<<" + inst->canonical_answer + ">>>", inst->canonical_answer,
            std::string("<<<(A)>>>"), std::string("So, no."), std::string("<<<Yes>>>"),
            std::string("\\boxed{3}"), std::string("<<<42>>>"), std::string("")}) {
        Verdict v = task.Check(*inst, answer);
        add(std::to_string(v.correct) + "|" + std::to_string(v.score) + "|" + v.parsed + "|" +
            v.reason);
      }
    }
  }
  return codesweep::Sha256Hex(out);
}

TEST(DatasetTaskFingerprintTest, PromptsDataAndChecksAreUnchanged) {
  const std::pair<const char*, const char*> kExpected[] = {
      {"gsm_hard", "400c794a9d6ede994ec6b109a33a08ee81aed050a08e92c8aac2178bbec922cb"},
      {"math_geometry", "baddb1f8a04a38c96877e46eece940a5a9dce3e1ced6b55e0ad197e732564fb0"},
      {"math_counting_and_probability",
       "68374c4b34499146ec0867e3ac4b04cd8877cd3595cd28bed3c13a80161c91c1"},
      {"bbh_date_understanding",
       "90ae2daf344e799a680dab5c09da4340ecdefdcf1c6fa9ee035565f8253e4959"},
      {"bbh_web_of_lies", "d63d0af8a0e3f63d176aae83692887354733027b3e469c8f6beba7bd8d893960"},
      {"bbh_logical_deduction_seven_objects",
       "0b8e8c543a014f5056e2fa615c78fd8cc484f329522aa9f50cf1fa0a2790c2b7"},
      {"bbh_navigate", "ca66da6f4b04ee9d4de891af2c24826e70e2a5416c202ebcc32abb00c04db998"},
  };
  for (const auto& [name, fingerprint] : kExpected) {
    EXPECT_EQ(DatasetTaskFingerprint(TaskNamed(name)), fingerprint) << name;
  }
}

}  // namespace
}  // namespace codesweep::testing_a
