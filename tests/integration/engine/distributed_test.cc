// A coordinator and two worker processes over tcp complete a 2,000-cell sweep, and the results
// equal a single-process `codesweep run` of the same sweep cell by cell.
#include <gtest/gtest.h>

#include <map>

#include "tests/integration/engine/harness.h"

namespace codesweep::testing {
namespace {

std::map<std::string, std::string> ResultsByCell(const std::string& db) {
  QueryTable t = Query(db, "SELECT cell_key, correct, final_answer, verdict_reason FROM v_results");
  std::map<std::string, std::string> out;
  for (const auto& row : t.rows) {
    out[row[0].value_or("")] =
        row[1].value_or("") + "|" + row[2].value_or("") + "|" + row[3].value_or("");
  }
  return out;
}

TEST(EngineIntegration, DistributedEqualsSingleProcess) {
  TempDir dir;
  std::string sweep = WriteSweep(dir, "dist", 500);  // 2,000 cells
  std::string db = dir / "dist.db";
  Proc coord(CoordinatorArgs(sweep, db, "tcp://127.0.0.1:0"), dir / "coord.log");
  std::string endpoint = WaitForEndpoint(coord, 20'000);
  ASSERT_FALSE(endpoint.empty()) << coord.log();
  Proc w1(WorkerArgs(endpoint, 4), dir / "w1.log");
  Proc w2(WorkerArgs(endpoint, 4), dir / "w2.log");
  ASSERT_TRUE(coord.Wait(120'000)) << coord.log();
  EXPECT_EQ(coord.exit_code(), 0) << coord.log();
  ExpectExactlyOnce(db, 2000);
  // Both workers took part.
  EXPECT_EQ(QueryInt(db, "SELECT count(DISTINCT worker) FROM attempts"), 2);
  EXPECT_EQ(w1.Stop(), 0) << w1.log();
  EXPECT_EQ(w2.Stop(), 0) << w2.log();

  std::string single_db = dir / "single.db";
  Proc run({Binary(), "run", sweep, "--db", single_db, "--quiet"}, dir / "run.log");
  ASSERT_TRUE(run.Wait(120'000)) << run.log();
  ASSERT_EQ(run.exit_code(), 0) << run.log();
  std::map<std::string, std::string> a = ResultsByCell(db), b = ResultsByCell(single_db);
  ASSERT_EQ(a.size(), 2000u);
  EXPECT_TRUE(a == b);

  // A second run finds nothing pending and says so.
  Proc again({Binary(), "run", sweep, "--db", single_db, "--quiet"}, dir / "again.log");
  ASSERT_TRUE(again.Wait(30'000));
  EXPECT_EQ(again.exit_code(), 0);
  EXPECT_NE(again.log().find("nothing to run"), std::string::npos) << again.log();
}

}  // namespace
}  // namespace codesweep::testing
