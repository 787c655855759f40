// The example sweep files: every one validates; examples/paper-sim.toml (all 14 tasks x 10
// methods on simulated models) and examples/quickstart.toml run to completion in one process, and
// a second run of the quickstart does nothing.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/integration/engine/harness.h"

namespace codesweep::testing {
namespace {

std::string Example(const std::string& name) {
  return std::string(CODESWEEP_SOURCE_DIR) + "/examples/" + name;
}

TEST(ExamplesTest, EverySweepFileValidates) {
  TempDir dir;
  for (const char* name : {"quickstart.toml", "paper.toml", "paper-sim.toml"}) {
    Proc p({Binary(), "validate", Example(name)}, dir / "validate.log");
    ASSERT_TRUE(p.Wait(60'000)) << name;
    EXPECT_EQ(p.exit_code(), 0) << name << ":\n" << p.log();
    EXPECT_THAT(p.log(), ::testing::HasSubstr("grid: ")) << name;
  }
}

TEST(ExamplesTest, PaperGridHasEveryTaskMethodAndModel) {
  TempDir dir;
  Proc p({Binary(), "validate", Example("paper.toml"), "--json", "--first", "1"},
         dir / "paper.json");
  ASSERT_TRUE(p.Wait(60'000));
  ASSERT_EQ(p.exit_code(), 0) << p.log();
  std::string out = p.log();
  for (const char* needle :
       {"\"openai:gpt-4o\"", "\"openai:gpt-4o-mini\"", "\"openai:gpt-3.5-turbo\"",
        "\"openai:o1-preview\"", "\"anthropic:claude-3-5-sonnet-20241022\"",
        "\"openai:open-mixtral-8x7b\"", "\"math_counting_and_probability\"", "\"path_plan\"",
        "\"self_estimate\"", "\"code_text_sum\""}) {
    EXPECT_THAT(out, ::testing::HasSubstr(needle));
  }
}

TEST(ExamplesTest, SimulatedPaperSweepRunsEveryTaskAndMethod) {
  TempDir dir;
  std::string db = dir / "paper-sim.db";
  Proc run({Binary(), "run", Example("paper-sim.toml"), "--db", db, "--workers", "4"},
           dir / "run.log");
  ASSERT_TRUE(run.Wait(480'000)) << run.log();
  ASSERT_EQ(run.exit_code(), 0) << run.log();
  // 14 tasks x 1 sample x 2 models x (6 multi-turn methods x 2 turn counts + 4 others).
  EXPECT_EQ(QueryInt(db, "SELECT count(*) FROM v_results"), 14 * 2 * (6 * 2 + 4));
  EXPECT_EQ(QueryInt(db, "SELECT count(DISTINCT task) FROM v_results"), 14);
  EXPECT_EQ(QueryInt(db, "SELECT count(DISTINCT method) FROM v_results"), 10);
  EXPECT_EQ(QueryInt(db, "SELECT count(*) FROM jobs WHERE state <> 'done'"), 0);
  // The simulated models produce real variation, and some code really ran.
  EXPECT_GT(QueryInt(db, "SELECT count(*) FROM v_results WHERE correct = 1"), 0);
  EXPECT_GT(QueryInt(db, "SELECT count(*) FROM v_results WHERE correct = 0"), 0);
  EXPECT_GT(QueryInt(db, "SELECT count(*) FROM executions WHERE status = 'ok'"), 0);
}

TEST(ExamplesTest, QuickstartRunsThenResumesWithNothingToDo) {
  TempDir dir;
  std::string db = dir / "quickstart.db";
  Proc first({Binary(), "run", Example("quickstart.toml"), "--db", db}, dir / "first.log");
  ASSERT_TRUE(first.Wait(300'000)) << first.log();
  ASSERT_EQ(first.exit_code(), 0) << first.log();
  int64_t cells = QueryInt(db, "SELECT count(*) FROM v_results");
  EXPECT_EQ(cells, 140);
  int64_t calls = QueryInt(db, "SELECT count(*) FROM calls");
  Proc second({Binary(), "run", Example("quickstart.toml"), "--db", db}, dir / "second.log");
  ASSERT_TRUE(second.Wait(60'000)) << second.log();
  EXPECT_EQ(second.exit_code(), 0) << second.log();
  EXPECT_THAT(second.log(), ::testing::HasSubstr("nothing to run"));
  EXPECT_EQ(QueryInt(db, "SELECT count(*) FROM v_results"), cells);
  EXPECT_EQ(QueryInt(db, "SELECT count(*) FROM calls"), calls);
}

}  // namespace
}  // namespace codesweep::testing

namespace codesweep::testing {
namespace {

// examples/declared-methods.toml: declared methods of every code mode beside a built-in one.
TEST(ExamplesTest, DeclaredMethodsExampleRuns) {
  TempDir dir;
  std::string db = dir / "declared.db";
  Proc run({Binary(), "run", Example("declared-methods.toml"), "--db", db}, dir / "run.log");
  ASSERT_TRUE(run.Wait(300'000)) << run.log();
  ASSERT_EQ(run.exit_code(), 0) << run.log();
  // 12 instances x (all_code x2 turns, my_cot, text_only, tool_solver, refine x2 turns).
  EXPECT_EQ(QueryInt(db, "SELECT count(*) FROM v_results"), 12 * 7);
  for (const char* method : {"my_cot", "text_only", "tool_solver", "refine"}) {
    EXPECT_GT(QueryInt(db, std::string("SELECT count(*) FROM v_results WHERE method = '") + method +
                               "' AND correct = 1"),
              0)
        << method;
  }
  EXPECT_EQ(QueryInt(db,
                     "SELECT count(*) FROM executions e JOIN jobs j ON j.id = e.job_id"
                     " WHERE j.method = 'text_only'"),
            0);
}

}  // namespace
}  // namespace codesweep::testing
