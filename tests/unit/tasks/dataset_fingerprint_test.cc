// The dataset tasks (gsm_hard, math_*, bbh_*) are pinned as a whole: a SHA-256 over everything
// they show the outside, for every item of every level (prompts, truths, data, reference
// programs, complexity errors, verdicts on fixed answers). The values were computed with the
// task classes as they were before they shared DatasetTask, so that refactoring, or any later
// one, cannot change a prompt or a check unnoticed. A deliberate change updates the value.
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
      {"gsm_hard", "8e323954cdca21c92058db0ada4300b16aa4122a1823188556f368e4e3910b9c"},
      {"math_geometry", "cbd8f60b37b84154bd58ff5e082ddf2ca51ac5a93e211b9dd3a8dd1d05581c33"},
      {"math_counting_and_probability",
       "fc631775b9b023ed54d429afc98297a1b016681b5bcd69588e2f6b2a18baa70e"},
      {"bbh_date_understanding",
       "23461fa99a72fa4ad71571f89235a814d9fad0523cdf77aaecac1320baa6fe8b"},
      {"bbh_web_of_lies", "ddae9832732fd3126a87936f1b6c3d42aa361b58d72764300c39e9e5d16a9b03"},
      {"bbh_logical_deduction_seven_objects",
       "d5d10428dc32ebc8ffd7c35af7a48354e725c02aee7d9f07a1385c7547e159dd"},
      {"bbh_navigate", "8542073ce7ce8de334d59771a73b69cb8bfd1fcc336cb61996de5f4d5dce7b0a"},
  };
  for (const auto& [name, fingerprint] : kExpected) {
    EXPECT_EQ(DatasetTaskFingerprint(TaskNamed(name)), fingerprint) << name;
  }
}

}  // namespace
}  // namespace codesweep::testing_a
