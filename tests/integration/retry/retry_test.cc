// `codesweep retry` and the exit status of `run`, against a real fakellm: every call is refused
// (401, a permanent error) until the test lets the key in; then only the cells a retry selects
// run again, their old attempts stay as history, and the exit status says how the sweep ended.
#include <gtest/gtest.h>

#include "tests/integration/retry/retry_harness.h"

namespace codesweep::testing {
namespace {

int64_t Jobs(const std::string& db, const std::string& where) {
  return QueryInt(db, "SELECT count(*) FROM jobs WHERE " + where);
}

TEST(Retry, OnlyMatchingCellsRunAgainAndHistoryStays) {
  TempDir dir;
  FakeLlm llm(dir, {"--valid-keys", "secret"});
  const std::string sweep = WriteRetrySweep(dir, RetrySweep{}, llm.base_url());
  const std::string db = dir / "rt.db";

  // Every call is refused: every cell fails, and run says so in its summary and exit status.
  CliRun first = Codesweep(dir, {"run", sweep, "--db", db, "--workers", "2", "-q"});
  ASSERT_EQ(first.exit_code, 3) << first.out;
  EXPECT_EQ(CountState(db, "failed"), 16) << JobStates(db);
  EXPECT_NE(first.out.find("most common error"), std::string::npos) << first.out;
  EXPECT_NE(first.out.find("401"), std::string::npos) << first.out;
  EXPECT_NE(first.out.find("16 cells failed or dead"), std::string::npos) << first.out;
  // Running it again finds nothing to run and still reports the failures.
  CliRun again = Codesweep(dir, {"run", sweep, "--db", db, "-q"});
  EXPECT_EQ(again.exit_code, 3) << again.out;
  EXPECT_NE(again.out.find("nothing to run"), std::string::npos) << again.out;

  // Dry runs count without changing anything.
  CliRun dry = Codesweep(dir, {"retry", sweep, "--db", db, "--method", "all_text", "--dry-run"});
  EXPECT_EQ(dry.exit_code, 0) << dry.out;
  EXPECT_NE(dry.out.find("8 failed and dead cells of method all_text match"), std::string::npos)
      << dry.out;
  dry = Codesweep(dir, {"retry", sweep, "--db", db, "--state", "dead", "--dry-run"});
  EXPECT_NE(dry.out.find("0 dead cells match"), std::string::npos) << dry.out;
  dry = Codesweep(dir,
                  {"retry", sweep, "--db", db, "--error-like", "INCORRECT API KEY", "--dry-run"});
  EXPECT_NE(dry.out.find("16 failed and dead cells whose error contains"), std::string::npos)
      << dry.out;
  dry = Codesweep(dir, {"retry", sweep, "--db", db, "--error-like", "no such error", "--dry-run"});
  EXPECT_NE(dry.out.find("0 failed and dead cells"), std::string::npos) << dry.out;
  EXPECT_EQ(CountState(db, "failed"), 16) << JobStates(db);

  // A name the sweep does not have is an error that says so, in plain words.
  CliRun bad = Codesweep(dir, {"retry", sweep, "--db", db, "--model", "openai:nope"});
  EXPECT_EQ(bad.exit_code, 1) << bad.out;
  EXPECT_NE(bad.out.find("the sweep has no model \"openai:nope\""), std::string::npos) << bad.out;
  EXPECT_EQ(bad.out.find("InvalidArgument"), std::string::npos) << bad.out;

  // The key is fixed; only the all_text cells are retried.
  llm.Post("/admin/config", R"({"valid_keys": ""})");
  CliRun retry = Codesweep(dir, {"retry", sweep, "--db", db, "--method", "all_text", "-q"});
  EXPECT_EQ(retry.exit_code, 3) << retry.out;  // the only_question cells are still failed
  EXPECT_NE(retry.out.find("retry: 8 failed and dead cells of method all_text are pending again"),
            std::string::npos)
      << retry.out;
  EXPECT_EQ(Jobs(db, "method = 'all_text' AND state = 'done'"), 8) << JobStates(db);
  EXPECT_EQ(Jobs(db, "method = 'only_question' AND state = 'failed'"), 8) << JobStates(db);
  EXPECT_EQ(llm.Stat("ok"), 8);
  // History: each retried cell has its failed attempt and the new one, both numbered 1.
  EXPECT_EQ(QueryInt(db,
                     "SELECT count(*) FROM attempts a JOIN jobs j ON j.id = a.job_id"
                     " WHERE j.method = 'all_text' AND a.attempt = 1"),
            16);
  EXPECT_EQ(QueryInt(db,
                     "SELECT count(*) FROM attempts a JOIN jobs j ON j.id = a.job_id"
                     " WHERE j.method = 'all_text' AND a.outcome = 'failed'"),
            8);
  EXPECT_EQ(QueryInt(db,
                     "SELECT count(*) FROM attempts a JOIN jobs j ON j.id = a.job_id"
                     " WHERE j.method = 'only_question'"),
            8);
  // The refused calls of the first attempts are kept beside the new ones.
  EXPECT_GE(QueryInt(db,
                     "SELECT count(*) FROM calls c JOIN jobs j ON j.id = c.job_id"
                     " WHERE j.method = 'all_text' AND c.lease_token <= j.retry_floor"),
            8);

  // Retrying the rest finishes the sweep: exit status 0.
  CliRun rest = Codesweep(dir, {"retry", sweep, "--db", db, "-q"});
  EXPECT_EQ(rest.exit_code, 0) << rest.out;
  EXPECT_EQ(CountState(db, "done"), 16) << JobStates(db);
  CliRun nothing = Codesweep(dir, {"retry", sweep, "--db", db});
  EXPECT_EQ(nothing.exit_code, 0) << nothing.out;
  EXPECT_NE(nothing.out.find("nothing to retry"), std::string::npos) << nothing.out;
}

// Cells made dead by a transient error (503 here, one attempt allowed) are told apart from
// failed ones; --no-run puts them back without running them.
TEST(Retry, DeadCellsAndNoRun) {
  TempDir dir;
  FakeLlm llm(dir, {"--p503", "1"});
  RetrySweep s;
  s.methods = {"all_text"};
  s.samples = 1;
  const std::string sweep = WriteRetrySweep(dir, s, llm.base_url());
  const std::string db = dir / "rt.db";
  CliRun first = Codesweep(dir, {"run", sweep, "--db", db, "-q"});
  ASSERT_EQ(first.exit_code, 3) << first.out;
  EXPECT_EQ(CountState(db, "dead"), 4) << JobStates(db);
  CliRun dry = Codesweep(dir, {"retry", sweep, "--db", db, "--state", "failed", "--dry-run"});
  EXPECT_NE(dry.out.find("0 failed cells match"), std::string::npos) << dry.out;
  CliRun put = Codesweep(dir, {"retry", sweep, "--db", db, "--state", "dead", "--no-run"});
  EXPECT_EQ(put.exit_code, 0) << put.out;
  EXPECT_EQ(CountState(db, "pending"), 4) << JobStates(db);
  llm.Post("/admin/config", R"({"p_503": 0})");
  CliRun run = Codesweep(dir, {"run", sweep, "--db", db, "-q"});
  EXPECT_EQ(run.exit_code, 0) << run.out;
  EXPECT_EQ(CountState(db, "done"), 4) << JobStates(db);
}

// `retry --connect`: a coordinator already serves the database and is told at once (WAKE). Its
// idle re-read of pending jobs is set to an hour, so only the WAKE can make it run them.
TEST(Retry, ConnectWakesTheRunningCoordinator) {
  TempDir dir;
  FakeLlm llm(dir, {"--p503", "1"});
  RetrySweep s;
  s.methods = {"all_text"};
  s.samples = 1;
  const std::string sweep = WriteRetrySweep(dir, s, llm.base_url());
  const std::string db = dir / "rt.db";
  CliRun first = Codesweep(dir, {"run", sweep, "--db", db, "-q"});
  ASSERT_EQ(first.exit_code, 3) << first.out;
  ASSERT_EQ(CountState(db, "dead"), 4) << JobStates(db);
  llm.Post("/admin/config", R"({"p_503": 0})");
  Proc coord({Binary(), "coordinator", sweep, "--db", db, "--bind", "tcp://127.0.0.1:0",
              "--idle-fetch-ms", "3600000"},
             dir / "coord.log");
  const std::string endpoint = WaitForEndpoint(coord, 15'000);
  ASSERT_FALSE(endpoint.empty()) << coord.log();
  Proc worker(WorkerArgs(endpoint, 2), dir / "worker.log");
  ASSERT_TRUE(WaitFor([&] { return coord.log().find("worker up") != std::string::npos; }, 15'000))
      << coord.log();
  CliRun put = Codesweep(dir, {"retry", sweep, "--db", db, "--state", "dead", "--connect", endpoint,
                               "--timeout-ms", "5000"});
  EXPECT_EQ(put.exit_code, 0) << put.out;
  EXPECT_NE(put.out.find("dispatches them now"), std::string::npos) << put.out;
  EXPECT_TRUE(WaitFor([&] { return CountState(db, "done") == 4; }, 30'000)) << JobStates(db);
}

}  // namespace
}  // namespace codesweep::testing
