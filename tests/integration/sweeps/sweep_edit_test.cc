// Editing a sweep file between runs: transport settings (a local server moved to another port)
// take effect on every remaining cell, pending and retried alike, with no duplicate cells; and
// `run --limit/--task/--model/--method` runs only the cells asked for. Real `codesweep run`
// processes, real fakellm servers on 127.0.0.1, a real database.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <stdlib.h>

#include <fstream>

#include "tests/integration/engine/harness.h"
#include "tests/integration/methods/fakellm_proc.h"

namespace codesweep::testing {
namespace {

// 2 levels x 3 samples of number_multiply on one fakellm model: 6 cells. A failed HTTP call is
// not retried and a failed cell is not run again, so a dead server ends its cells quickly.
std::string WriteFakeSweep(const TempDir& dir, int port, const std::string& extra = "") {
  std::string path = dir / "moved.toml";
  std::ofstream out(path);
  out << "name = \"moved\"\nseed = 3\nsamples = 3\nmax_attempts = 1\n"
      << extra << "methods = [\"only_question\"]\n\n[[tasks]]\nname = \"number_multiply\"\n"
      << "complexity = [\"1_2\", \"2_2\"]\n\n[models.\"openai:fake-model\"]\n"
      << "base_url = \"http://127.0.0.1:" << port << "/v1\"\n"
      << "api_key_env = \"CODESWEEP_TEST_KEY\"\nretry = { max_attempts = 1 }\n"
      << "timeouts = { connect_ms = 2000, total_ms = 20000 }\n";
  return path;
}

int RunSweep(const TempDir& dir, const std::vector<std::string>& extra, const std::string& log,
             std::string* out = nullptr) {
  std::vector<std::string> args = {
      Binary(), "run", dir / "moved.toml", "--db", dir / "moved.db", "--workers", "2", "-q"};
  args.insert(args.end(), extra.begin(), extra.end());
  Proc p(args, dir / log);
  bool ended = p.Wait(120'000);
  if (out != nullptr) *out = p.log();
  EXPECT_TRUE(ended) << p.log();
  return ended ? p.exit_code() : -100;
}

int64_t LinesOf(const std::string& path) {
  std::ifstream in(path);
  int64_t n = 0;
  for (std::string line; std::getline(in, line);) n += !line.empty();
  return n;
}

class SweepEditTest : public ::testing::Test {
 protected:
  void SetUp() override { setenv("CODESWEEP_TEST_KEY", "test-key", 1); }
};

// The issue: after moving a local server to another port and re-running the edited sweep, every
// remaining cell still called the old port (jobs kept the variant of their first insert).
TEST_F(SweepEditTest, MovedServerTakesEveryRemainingCell) {
  TempDir dir;
  const std::string db = dir / "moved.db";
  auto a = std::make_unique<FakeLlm>(
      std::vector<std::string>{"--port", "0", "--threads", "2", "--record", dir / "a.jsonl"});
  ASSERT_GT(a->port(), 0);
  const int port_a = a->port();
  WriteFakeSweep(dir, port_a);
  // Part of the sweep against A: the first sample of each level.
  ASSERT_EQ(RunSweep(dir, {"--limit", "1"}, "a.log"), 0);
  EXPECT_EQ(QueryInt(db, "SELECT count(*) FROM jobs WHERE state = 'done'"), 2) << JobStates(db);
  EXPECT_EQ(QueryInt(db, "SELECT count(*) FROM jobs WHERE state = 'pending'"), 4);
  // A goes away; one more sample per level is tried against it and fails.
  a.reset();
  RunSweep(dir, {"--limit", "2"}, "a-gone.log");
  EXPECT_EQ(QueryInt(db, "SELECT count(*) FROM jobs WHERE state IN ('failed', 'dead')"), 2)
      << JobStates(db);
  // What `codesweep retry` does to them: pending again.
  ASSERT_EQ(QueryInt(db, "SELECT count(*) FROM jobs"), 6);
  sqlite3* raw = nullptr;
  ASSERT_EQ(sqlite3_open(db.c_str(), &raw), SQLITE_OK);
  EXPECT_EQ(sqlite3_exec(raw,
                         "UPDATE jobs SET state = 'pending', attempts = 0"
                         " WHERE state IN ('failed', 'dead')",
                         nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(raw);
  // The server now listens on B; the sweep file says so.
  std::unique_ptr<FakeLlm> b;
  for (int i = 0; i < 5 && (b == nullptr || b->port() == port_a); ++i) {
    b = std::make_unique<FakeLlm>(
        std::vector<std::string>{"--port", "0", "--threads", "2", "--record", dir / "b.jsonl"});
  }
  ASSERT_GT(b->port(), 0);
  ASSERT_NE(b->port(), port_a);
  WriteFakeSweep(dir, b->port());
  std::string out;
  ASSERT_EQ(RunSweep(dir, {}, "b.log", &out), 0) << out << JobStates(db);
  EXPECT_THAT(out, ::testing::HasSubstr("6 cells (0 new, 4 to run)"));
  ExpectExactlyOnce(db, 6);
  EXPECT_EQ(QueryInt(db, "SELECT count(*) FROM jobs"), 6);  // no duplicate cells
  EXPECT_EQ(LinesOf(dir / "b.jsonl"), 4);  // the 2 never run + the 2 retried, all on B
  EXPECT_EQ(LinesOf(dir / "a.jsonl"), 2);
}

// Raising a timeout of a finished sweep adds no cells: the report still counts each sample once.
TEST_F(SweepEditTest, RaisedTimeoutAddsNoCells) {
  TempDir dir;
  const std::string db = dir / "moved.db";
  FakeLlm server({"--port", "0", "--threads", "2"});
  ASSERT_GT(server.port(), 0);
  WriteFakeSweep(dir, server.port());
  ASSERT_EQ(RunSweep(dir, {}, "first.log"), 0);
  ExpectExactlyOnce(db, 6);
  std::string path = dir / "moved.toml";
  std::ofstream(path, std::ios::app) << "timeout_ms = 600000\n";
  std::string out;
  ASSERT_EQ(RunSweep(dir, {}, "second.log", &out), 0);
  EXPECT_THAT(out, ::testing::HasSubstr("nothing to run"));
  ExpectExactlyOnce(db, 6);
  EXPECT_EQ(QueryInt(db, "SELECT sum(n) FROM v_summary"), 6);
}

// --limit N runs the first N samples of each task level; --task/--model/--method select cells;
// a name the sweep does not have is an error that names what it has.
TEST(RunFilterTest, LimitAndFiltersRunOnlyTheirCells) {
  TempDir dir;
  const std::string db = dir / "f.db";
  std::string path = dir / "f.toml";
  std::ofstream(path) << "name = \"f\"\nseed = 1\nsamples = 4\n"
                      << "methods = [\"only_question\", \"all_code\"]\n"
                      << "[[tasks]]\nname = \"number_multiply\"\ncomplexity = [\"1_2\"]\n"
                      << "first_sample = 10\n"
                      << "[[tasks]]\nname = \"game24\"\ncomplexity = [\"4\"]\n"
                      << "[models.\"sim:a\"]\np_code = 0.0\n[models.\"sim:b\"]\np_code = 0.0\n";
  auto run = [&](std::vector<std::string> extra, const std::string& log) {
    std::vector<std::string> args = {Binary(), "run", path, "--db", db, "-q"};
    args.insert(args.end(), extra.begin(), extra.end());
    Proc p(args, dir / log);
    EXPECT_TRUE(p.Wait(120'000)) << p.log();
    return std::make_pair(p.exit_code(), p.log());
  };
  // 2 tasks x 4 samples x 2 models x 2 methods = 32 cells.
  auto [rc, out] = run({"--limit", "2", "--model", "sim:a"}, "limit.log");
  ASSERT_EQ(rc, 0) << out;
  EXPECT_EQ(QueryInt(db, "SELECT count(*) FROM jobs"), 32);
  EXPECT_EQ(QueryInt(db, "SELECT count(*) FROM v_results"), 2 * 2 * 2) << JobStates(db);
  EXPECT_EQ(QueryInt(db, "SELECT count(*) FROM v_results WHERE model <> 'sim:a'"), 0);
  QueryTable t = Query(db,
                       "SELECT min(sample), max(sample) FROM v_results WHERE task = "
                       "'number_multiply'");
  ASSERT_EQ(t.rows.size(), 1u);
  EXPECT_EQ(*t.rows[0][0], "10");
  EXPECT_EQ(*t.rows[0][1], "11");
  std::tie(rc, out) = run({"--task", "game24", "--method", "all_code,only_question"}, "task.log");
  ASSERT_EQ(rc, 0) << out;
  EXPECT_EQ(QueryInt(db, "SELECT count(*) FROM v_results WHERE task = 'game24'"), 16);
  EXPECT_EQ(QueryInt(db, "SELECT count(*) FROM v_results WHERE task = 'number_multiply'"), 4);
  std::tie(rc, out) = run({"--method", "no_such_method"}, "typo.log");
  EXPECT_EQ(rc, 1);
  EXPECT_THAT(out, ::testing::HasSubstr("the sweep has no method 'no_such_method'"));
  EXPECT_THAT(out, ::testing::Not(::testing::HasSubstr("InvalidArgument")));
  std::tie(rc, out) = run({"--limit", "0"}, "zero.log");
  EXPECT_NE(rc, 0);
  EXPECT_THAT(out, ::testing::HasSubstr("--limit must be a positive integer"));
  std::tie(rc, out) = run({}, "rest.log");
  ASSERT_EQ(rc, 0) << out;
  ExpectExactlyOnce(db, 32);
}

// A statement that fails while `run` loads the grid is logged with its SQL (the store's log was
// not wired where run and coordinator open it, so the SQL was dropped).
TEST(RunLogTest, FailedGridLoadStatementIsLoggedWithItsSql) {
  TempDir dir;
  const std::string db = dir / "l.db";
  std::string path = dir / "l.toml";
  auto write = [&](int samples) {
    std::ofstream(path, std::ios::trunc)
        << "name = \"l\"\nseed = 1\nsamples = " << samples << "\nmethods = [\"only_question\"]\n"
        << "[[tasks]]\nname = \"number_multiply\"\ncomplexity = [\"1_2\"]\n"
        << "[models.\"sim:a\"]\np_code = 0.0\n";
  };
  write(1);
  Proc first({Binary(), "run", path, "--db", db, "-q"}, dir / "first.log");
  ASSERT_TRUE(first.Wait(120'000)) << first.log();
  ASSERT_EQ(first.exit_code(), 0) << first.log();
  sqlite3* raw = nullptr;
  ASSERT_EQ(sqlite3_open(db.c_str(), &raw), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(raw,
                         "CREATE TRIGGER no_more_jobs BEFORE INSERT ON jobs"
                         " BEGIN SELECT RAISE(ABORT, 'no more jobs'); END",
                         nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(raw);
  write(2);
  Proc second({Binary(), "run", path, "--db", db, "-q"}, dir / "second.log");
  ASSERT_TRUE(second.Wait(120'000)) << second.log();
  EXPECT_EQ(second.exit_code(), 1) << second.log();
  EXPECT_THAT(second.log(), ::testing::HasSubstr("no more jobs"));
  EXPECT_THAT(second.log(), ::testing::HasSubstr("[sql: INSERT OR IGNORE INTO jobs"));
}

// epochs = 3: every cell drawn three times, each draw its own job with its own call keys (so no
// draw is answered from another's cache entry), and the report adds mean, pass@k and majority.
TEST(EpochsTest, RepeatedDrawsRunAndReport) {
  TempDir dir;
  const std::string db = dir / "e.db";
  std::string path = dir / "e.toml";
  std::ofstream(path) << "name = \"e\"\nseed = 1\nsamples = 3\nepochs = 3\n"
                      << "methods = [\"only_question\"]\n"
                      << "[[tasks]]\nname = \"number_multiply\"\ncomplexity = [\"2_2\"]\n"
                      << "[models.\"sim:a\"]\np_code = 0.0\np_correct = 0.5\n";
  Proc run({Binary(), "run", path, "--db", db, "-q"}, dir / "run.log");
  ASSERT_TRUE(run.Wait(120'000)) << run.log();
  ASSERT_EQ(run.exit_code(), 0) << run.log();
  ExpectExactlyOnce(db, 9);
  EXPECT_EQ(QueryInt(db, "SELECT count(DISTINCT epoch) FROM jobs"), 3);
  EXPECT_EQ(QueryInt(db, "SELECT count(*) FROM calls"), 9);
  EXPECT_EQ(QueryInt(db, "SELECT count(DISTINCT call_key) FROM calls"), 9);
  EXPECT_EQ(QueryInt(db, "SELECT count(*) FROM calls WHERE cached = 1"), 0);
  Proc report({Binary(), "report", "--db", db}, dir / "report.md");
  ASSERT_TRUE(report.Wait(60'000));
  ASSERT_EQ(report.exit_code(), 0) << report.log();
  EXPECT_THAT(report.log(), ::testing::HasSubstr("### Repeated draws (epochs)"));
  // The row: task, model, method, instances 3, k 3, then the three percentages.
  EXPECT_THAT(report.log(), ::testing::HasSubstr(
                                "| number_multiply | sim:a (simulated) | only_question | 3 | 3 |"));
  // Raising epochs adds only the new draws.
  std::ofstream(path, std::ios::trunc)
      << "name = \"e\"\nseed = 1\nsamples = 3\nepochs = 4\n"
      << "methods = [\"only_question\"]\n"
      << "[[tasks]]\nname = \"number_multiply\"\ncomplexity = [\"2_2\"]\n"
      << "[models.\"sim:a\"]\np_code = 0.0\np_correct = 0.5\n";
  Proc more({Binary(), "run", path, "--db", db, "-q"}, dir / "more.log");
  ASSERT_TRUE(more.Wait(120'000)) << more.log();
  ASSERT_EQ(more.exit_code(), 0) << more.log();
  EXPECT_THAT(more.log(), ::testing::HasSubstr("12 cells (3 new, 3 to run)"));
  ExpectExactlyOnce(db, 12);
}

}  // namespace
}  // namespace codesweep::testing
