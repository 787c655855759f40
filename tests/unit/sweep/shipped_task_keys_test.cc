// Issue 15: the paper's seven dataset tasks moved from C++ to task files in data/ and kept their
// cell keys, so a database made before the move does not run them again (docs/tasks.md, "The
// paper's dataset tasks as task files"). The digest pins the keys as the move left them: neither
// grid.cc nor TaskVersion changed in it, so they are the keys made before the move.
#include <gtest/gtest.h>

#include <string>

#include "base/hash.h"
#include "coordinator/sweep/grid.h"
#include "coordinator/sweep/sweep_file.h"
#include "jobs/tasks/task.h"

namespace codesweep {
namespace {

constexpr const char* kSweep = R"(
name = "paper-keys"
seed = 3
samples = 3
methods = ["only_question", "all_code"]
[[tasks]]
name = "bbh_date_understanding"
[[tasks]]
name = "bbh_web_of_lies"
[[tasks]]
name = "bbh_logical_deduction_seven_objects"
[[tasks]]
name = "bbh_navigate"
[[tasks]]
name = "gsm_hard"
[[tasks]]
name = "math_geometry"
complexity = ["1", "5"]
[[tasks]]
name = "math_counting_and_probability"
complexity = ["3"]
[models."sim:s"]
)";

TEST(CellKeys, ShippedDatasetTasksKeepTheirKeys) {
  Result<std::unique_ptr<TaskRegistry>> registry = TaskRegistry::Create(DefaultDataDir());
  ASSERT_TRUE(registry.ok()) << registry.status().ToString();
  Result<SweepConfig> config = ParseSweep(kSweep, "keys.toml", **registry);
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  std::string all;
  int cells = 0;
  ForEachCell(*config, [&](const GridCell& g) {
    all += g.task + "|" + g.complexity + "|" + std::to_string(g.sample) + "|" + g.method + "|" +
           g.cell.value() + "\n";
    ++cells;
    return true;
  });
  EXPECT_EQ(cells, (5 + 2 + 1) * 3 * 2);  // (levels of the 7 tasks) x samples x methods
  EXPECT_EQ(Sha256Hex(all), "3fafacbb56627f557210e40e0c7e34c7fc6293bb9508053ad25063e3ff1323ca")
      << all;
}

}  // namespace
}  // namespace codesweep
