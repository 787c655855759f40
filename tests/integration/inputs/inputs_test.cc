// Hostile input through the real `codesweep` binary (issue 20): a sweep file nested 25,000 deep
// (validate died with SIGSEGV), limits that overflowed (`[sandbox] wall_ms = 2^63-1`,
// `exec --timeout 10000000000s`), and a grid past --max-cells. Each ends in a clear message and
// a documented exit status, never a signal.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>

#include "tests/integration/engine/harness.h"

namespace codesweep::testing {
namespace {

using ::testing::HasSubstr;

std::string Quickstart() {
  return ReadFile(std::string(CODESWEEP_SOURCE_DIR) + "/examples/quickstart.toml");
}

std::string Write(const TempDir& dir, const std::string& name, const std::string& text) {
  std::string path = dir / name;
  std::ofstream(path) << text;
  return path;
}

TEST(InputsTest, DeeplyNestedSweepFileIsAnErrorNotASignal) {
  TempDir dir;
  std::string text = Quickstart() + "\n[sandbox";
  for (int i = 0; i < 25'000; ++i) text += ".a";
  std::string sweep = Write(dir, "deep.toml", text + "]\nx = 1\n");
  Proc p({Binary(), "validate", sweep}, dir / "validate.log");
  ASSERT_TRUE(p.Wait(60'000));
  EXPECT_EQ(p.exit_code(), 1) << p.log();
  EXPECT_THAT(p.log(), HasSubstr("deep.toml:"));
  EXPECT_THAT(p.log(), HasSubstr("nested deeper than 64 levels"));
}

TEST(InputsTest, OverflowingSandboxLimitIsRefusedAtValidate) {
  TempDir dir;
  std::string sweep =
      Write(dir, "limits.toml", Quickstart() + "\n[sandbox]\nwall_ms = 9223372036854775807\n");
  Proc p({Binary(), "validate", sweep}, dir / "validate.log");
  ASSERT_TRUE(p.Wait(60'000));
  EXPECT_EQ(p.exit_code(), 1) << p.log();
  EXPECT_THAT(p.log(), HasSubstr("sandbox.wall_ms: must be between 1 and 86400000"));
}

TEST(InputsTest, ExecTimeoutOutsideItsRangeIsAUsageError) {
  TempDir dir;
  std::string code = Write(dir, "ok.py", "print(1)\n");
  for (const char* timeout : {"10000000000s", "0s", "inf", "nan", "25h"}) {
    Proc p({Binary(), "exec", code, "--timeout", timeout}, dir / "exec.log");
    ASSERT_TRUE(p.Wait(60'000));
    EXPECT_EQ(p.exit_code(), 2) << timeout << ": " << p.log();
    EXPECT_THAT(p.log(), HasSubstr("--timeout")) << timeout;
  }
}

// `tasks show game24 --seed 3` used to fail with "unknown complexity ''": without
// --complexity, `tasks show` and `tasks check` take the task's first level.
TEST(InputsTest, TasksShowAndCheckDefaultToTheFirstComplexityLevel) {
  TempDir dir;
  Proc show({Binary(), "tasks", "show", "game24", "--seed", "3"}, dir / "show.log");
  ASSERT_TRUE(show.Wait(60'000));
  EXPECT_EQ(show.exit_code(), 0) << show.log();
  EXPECT_THAT(show.log(), HasSubstr("== task: game24  complexity: "));
  Proc check({Binary(), "tasks", "check", "game24", "--seed", "3", "--answer", "<<<1+1>>>"},
             dir / "check.log");
  ASSERT_TRUE(check.Wait(60'000));
  EXPECT_EQ(check.exit_code(), 1) << check.log();  // answered, and wrong: not a usage error
  EXPECT_THAT(check.log(), HasSubstr("correct: no"));
  Proc bad({Binary(), "tasks", "show", "game24", "--seed", "3", "--complexity", "zz"},
           dir / "bad.log");
  ASSERT_TRUE(bad.Wait(60'000));
  EXPECT_EQ(bad.exit_code(), 2) << bad.log();
  EXPECT_THAT(bad.log(), ::testing::Not(HasSubstr("InvalidArgument:")));
}

TEST(InputsTest, ValidateStatesGridAndDatabaseSizeAndHonoursMaxCells) {
  TempDir dir;
  std::string sweep = Write(dir, "q.toml", Quickstart());
  Proc ok({Binary(), "validate", sweep}, dir / "ok.log");
  ASSERT_TRUE(ok.Wait(60'000));
  EXPECT_EQ(ok.exit_code(), 0) << ok.log();
  EXPECT_THAT(ok.log(), HasSubstr("grid: 140 cells; the database will need about 560.0 KiB"));
  Proc refused({Binary(), "validate", sweep, "--max-cells", "100"}, dir / "refused.log");
  ASSERT_TRUE(refused.Wait(60'000));
  EXPECT_EQ(refused.exit_code(), 1) << refused.log();
  EXPECT_THAT(refused.log(), HasSubstr("the grid has 140 cells, more than --max-cells 100"));
  EXPECT_THAT(refused.log(), HasSubstr("--max-cells"));
}

}  // namespace
}  // namespace codesweep::testing
