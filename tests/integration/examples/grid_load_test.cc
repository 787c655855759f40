// Big grids under the user's hand (issue 20 §4), with the real binary: a grid past --max-cells
// is refused with its size before the database is touched; SIGINT or SIGTERM during the load of
// a big grid stop `run` and `coordinator` within seconds, leave no sweep without jobs, keep the
// committed batches, and the database stays usable.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "tests/integration/engine/harness.h"

namespace codesweep::testing {
namespace {

using ::testing::HasSubstr;

// number_multiply at 4 levels x `samples` on one sim model and one method: 4 x samples cells.
std::string WriteGrid(const TempDir& dir, const std::string& name, int64_t samples) {
  std::string path = dir / (name + ".toml");
  std::ofstream out(path);
  out << "name = \"" << name << "\"\nseed = 7\nsamples = " << samples
      << "\nmethods = [\"only_question\"]\n\n[[tasks]]\nname = \"number_multiply\"\n"
      << "complexity = [\"1_2\", \"2_2\", \"3_3\", \"2_3\"]\n\n"
      << "[models.\"sim:fast\"]\np_correct = 0.7\np_code = 0.0\n";
  return path;
}

constexpr int64_t kBigSamples = 5'000'000;  // 20 million cells: minutes to load here
const char* const kRaised = "100000000";    // --max-cells that lets it in

int64_t Jobs(const std::string& db) { return QueryInt(db, "SELECT count(*) FROM jobs"); }
int64_t SweepsWithoutJobs(const std::string& db) {
  return QueryInt(db,
                  "SELECT count(*) FROM sweeps s WHERE NOT EXISTS"
                  " (SELECT 1 FROM jobs j WHERE j.sweep_id = s.id)");
}

TEST(GridLoadTest, RunRefusesAGridPastMaxCellsStatingItsSize) {
  TempDir dir;
  std::string db = dir / "big.db";
  Proc run({Binary(), "run", WriteGrid(dir, "big", 500), "--db", db, "--max-cells", "1000"},
           dir / "run.log");
  ASSERT_TRUE(run.Wait(60'000)) << run.log();
  EXPECT_NE(run.exit_code(), 0);
  EXPECT_THAT(run.log(), HasSubstr("2,000 cells, more than --max-cells 1,000"));
  EXPECT_THAT(run.log(), HasSubstr("KiB for the jobs alone"));
  EXPECT_FALSE(std::filesystem::exists(db)) << "refused before the database is created";
}

TEST(GridLoadTest, CoordinatorRefusesAGridPastTheDefaultLimit) {
  TempDir dir;
  Proc coord({Binary(), "coordinator", WriteGrid(dir, "huge", 10'000'000), "--db", dir / "huge.db",
              "--bind", "tcp://127.0.0.1:0"},
             dir / "coord.log");
  ASSERT_TRUE(coord.Wait(60'000)) << coord.log();
  EXPECT_NE(coord.exit_code(), 0);
  EXPECT_THAT(coord.log(), HasSubstr("40,000,000 cells, more than --max-cells 10,000,000"));
  EXPECT_THAT(coord.log(), HasSubstr("GiB for the jobs alone"));
}

TEST(GridLoadTest, SigintDuringTheLoadStopsRunAndKeepsTheDatabaseClean) {
  TempDir dir;
  std::string db = dir / "big.db";
  std::string big = WriteGrid(dir, "big", kBigSamples);
  Proc run({Binary(), "run", big, "--db", db, "--max-cells", kRaised}, dir / "run.log");
  ASSERT_TRUE(WaitFor(
      [&] { return run.log().find("loading 20,000,000 cells") != std::string::npos; }, 60'000))
      << run.log();
  run.Signal(SIGINT);
  ASSERT_TRUE(run.Wait(10'000)) << "SIGINT ignored during the grid load:\n" << run.log();
  EXPECT_EQ(run.exit_code(), 130) << run.log();
  EXPECT_THAT(run.log(), HasSubstr("interrupted"));
  EXPECT_EQ(SweepsWithoutJobs(db), 0);
  // The database is usable: a small sweep runs to completion in it.
  Proc small({Binary(), "run", WriteGrid(dir, "small", 5), "--db", db}, dir / "small.log");
  ASSERT_TRUE(small.Wait(120'000)) << small.log();
  EXPECT_EQ(small.exit_code(), 0) << small.log();
  EXPECT_EQ(QueryInt(db, "SELECT count(*) FROM v_results WHERE sweep = 'small'"), 20);
}

TEST(GridLoadTest, LoadCommitsInBatchesAndSigtermStopsTheCoordinator) {
  TempDir dir;
  std::string db = dir / "big.db";
  std::string big = WriteGrid(dir, "big", kBigSamples);
  std::vector<std::string> args = {Binary(), "coordinator",       big,           "--db", db,
                                   "--bind", "tcp://127.0.0.1:0", "--max-cells", kRaised};
  Proc coord(args, dir / "coord.log");
  // Before the fix the whole grid was one transaction: no job was visible until its end.
  ASSERT_TRUE(WaitFor([&] { return Jobs(db) > 0; }, 240'000)) << coord.log();
  coord.Signal(SIGTERM);
  ASSERT_TRUE(coord.Wait(10'000)) << "SIGTERM ignored during the grid load:\n" << coord.log();
  EXPECT_EQ(coord.exit_code(), 0) << coord.log();
  // The committed batches stay (the next load adds the rest); the sweep has its jobs.
  const int64_t kept = Jobs(db);
  EXPECT_GT(kept, 0);
  EXPECT_LT(kept, 4 * kBigSamples);
  EXPECT_EQ(SweepsWithoutJobs(db), 0);
  EXPECT_EQ(QueryInt(db, "SELECT count(*) - count(DISTINCT cell_key) FROM jobs"), 0);
}

}  // namespace
}  // namespace codesweep::testing
