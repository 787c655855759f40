// Budgets against a real fakellm (0.001 USD a token): once one is reached no more cells start,
// the running ones finish, `run` exits 4 and `run` and `status` say which budget; raising it and
// running again continues where the sweep stopped.
#include <gtest/gtest.h>

#include "tests/integration/retry/retry_harness.h"

namespace codesweep::testing {
namespace {

// No attempt was abandoned: every lease the coordinator gave ended with an outcome.
void ExpectRunningCellsFinished(const std::string& db) {
  EXPECT_EQ(CountState(db, "leased"), 0) << JobStates(db);
  EXPECT_EQ(QueryInt(db,
                     "SELECT count(*) FROM attempts WHERE ended_ms IS NULL"
                     " OR outcome = 'requeued'"),
            0);
}

TEST(Budget, TokensTotalStopsDispatchAndRaisingItContinues) {
  TempDir dir;
  FakeLlm llm(dir, {});
  RetrySweep s;
  s.methods = {"all_text"};
  s.samples = 5;  // 20 cells
  s.top = "max_tokens_total = 1\n";
  std::string sweep = WriteRetrySweep(dir, s, llm.base_url());
  const std::string db = dir / "rt.db";

  CliRun run = Codesweep(dir, {"run", sweep, "--db", db, "--workers", "1", "--slots", "1", "-q"});
  ASSERT_EQ(run.exit_code, 4) << run.out;
  EXPECT_NE(run.out.find("max_tokens_total 1 reached"), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("raise the budget"), std::string::npos) << run.out;
  // The first result reaches the budget; the one other cell the worker may hold (slots plus
  // prefetch) finishes; nothing else starts.
  const int64_t done = CountState(db, "done");
  EXPECT_GE(done, 1);
  EXPECT_LE(done, 2);
  EXPECT_EQ(CountState(db, "pending"), 20 - done) << JobStates(db);
  ExpectRunningCellsFinished(db);
  CliRun status = Codesweep(dir, {"status", "--db", db});
  EXPECT_EQ(status.exit_code, 0) << status.out;
  EXPECT_NE(status.out.find("max_tokens_total 1 reached"), std::string::npos) << status.out;

  // Raised: the same command continues with the cells left and the stop is gone.
  s.top = "max_tokens_total = 100000000\n";
  sweep = WriteRetrySweep(dir, s, llm.base_url());
  run = Codesweep(dir, {"run", sweep, "--db", db, "--workers", "2", "-q"});
  EXPECT_EQ(run.exit_code, 0) << run.out;
  EXPECT_EQ(CountState(db, "done"), 20) << JobStates(db);
  EXPECT_EQ(llm.Stat("ok"), 20);  // no cell ran twice
  status = Codesweep(dir, {"status", "--db", db});
  EXPECT_EQ(status.out.find("budget"), std::string::npos) << status.out;
}

// A model's own budget stops only its cells; the other model's run to the end.
TEST(Budget, ModelCostStopsOnlyThatModel) {
  TempDir dir;
  FakeLlm llm(dir, {});
  RetrySweep s;
  s.methods = {"all_text"};
  s.samples = 2;  // 8 cells per model
  s.models = {{"openai:a", "max_cost_usd = 0.001\n"}, {"openai:b", ""}};
  const std::string sweep = WriteRetrySweep(dir, s, llm.base_url());
  const std::string db = dir / "rt.db";

  CliRun run = Codesweep(dir, {"run", sweep, "--db", db, "--workers", "1", "--slots", "1", "-q"});
  ASSERT_EQ(run.exit_code, 4) << run.out;
  EXPECT_NE(run.out.find("max_cost_usd 0.001 of model openai:a reached"), std::string::npos)
      << run.out;
  auto done_of = [&](const std::string& model) {
    return QueryInt(db,
                    "SELECT count(*) FROM jobs j JOIN variants v ON v.id = j.variant_id"
                    " WHERE j.state = 'done' AND v.model = '" +
                        model + "'");
  };
  EXPECT_EQ(done_of("openai:b"), 8) << JobStates(db);
  EXPECT_GE(done_of("openai:a"), 1);
  EXPECT_LE(done_of("openai:a"), 2);
  EXPECT_EQ(CountState(db, "pending"), 8 - done_of("openai:a")) << JobStates(db);
  ExpectRunningCellsFinished(db);
}

// Bad budgets are refused before anything runs, naming the key.
TEST(Budget, OutOfRangeBudgetIsRefused) {
  TempDir dir;
  RetrySweep s;
  s.top = "max_cost_usd = -1\n";
  const std::string sweep = WriteRetrySweep(dir, s, "http://127.0.0.1:9/v1");
  CliRun v = Codesweep(dir, {"validate", sweep});
  EXPECT_NE(v.exit_code, 0) << v.out;
  EXPECT_NE(v.out.find("max_cost_usd"), std::string::npos) << v.out;
}

}  // namespace
}  // namespace codesweep::testing
