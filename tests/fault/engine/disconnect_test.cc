// A worker process killed with SIGKILL closes its TCP connection; the coordinator sees the close
// (a socket monitor on its ROUTER) and requeues the worker's leases at once, without waiting for
// the heartbeat timeout, which this test sets far beyond its own deadline. So the requeues must
// carry the reason "worker disconnected", never "worker silent" or an expired lease, and every
// cell still ends with exactly one result.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/integration/engine/harness.h"

namespace codesweep::testing {
namespace {

std::vector<std::string> SlowHeartbeatCoordinator(const std::string& sweep, const std::string& db) {
  // Silence is noticed only after 1 s x 600 and leases last 10 minutes: neither can requeue.
  return {Binary(),
          "coordinator",
          sweep,
          "--db",
          db,
          "--bind",
          "tcp://127.0.0.1:0",
          "--exit-when-done",
          "--hb-ms",
          "1000",
          "--liveness",
          "600",
          "--lease-ms",
          "600000"};
}

TEST(DisconnectFault, KilledWorkersLeasesAreRequeuedOnDisconnect) {
  TempDir dir;
  std::string sweep = WriteSweep(dir, "disc", 5, /*latency_ms=*/3'000);  // 20 cells of 3 s
  std::string db = dir / "disc.db";
  Proc coord(SlowHeartbeatCoordinator(sweep, db), dir / "coord.log");
  std::string ep = WaitForEndpoint(coord, 30'000);
  ASSERT_FALSE(ep.empty()) << coord.log();
  auto victim = std::make_unique<Proc>(WorkerArgs(ep, 4), dir / "victim.log");
  ASSERT_TRUE(WaitFor([&] { return QueryInt(db, "SELECT count(*) FROM attempts") >= 4; }, 60'000))
      << JobStates(db) << "\n"
      << coord.log();
  const int64_t held = QueryInt(db, "SELECT count(*) FROM attempts WHERE ended_ms IS NULL");
  victim->Kill(SIGKILL);
  ASSERT_TRUE(WaitFor(
      [&] { return QueryInt(db, "SELECT count(*) FROM attempts WHERE outcome = 'requeued'") > 0; },
      60'000))
      << "the killed worker's leases were not requeued: " << JobStates(db) << "\n"
      << coord.log();
  Proc helper(WorkerArgs(ep, 4), dir / "helper.log");
  ASSERT_TRUE(coord.Wait(120'000)) << JobStates(db) << "\n" << coord.log();
  EXPECT_EQ(coord.exit_code(), 0) << coord.log();
  ExpectExactlyOnce(db, 20);
  EXPECT_EQ(QueryInt(db, "SELECT count(*) FROM attempts WHERE outcome = 'requeued'"), held);
  EXPECT_EQ(QueryInt(db,
                     "SELECT count(*) FROM attempts WHERE outcome = 'requeued'"
                     " AND error <> 'worker disconnected'"),
            0);
  EXPECT_NE(coord.log().find("reason=disconnected"), std::string::npos) << coord.log();
}

}  // namespace
}  // namespace codesweep::testing
