// Push dispatch (issue 16 §2): a cell handed to a running coordinator with `codesweep submit`
// reaches an idle worker process over tcp in the loop turn that received it. Every timer of the
// coordinator (heartbeats, the idle re-read of pending jobs, the lease-expiry check, the rate
// limits snapshot) is set to ten minutes, so a dispatch that waited for any of them would not
// happen within the test's deadlines and the test would fail.
#include <gtest/gtest.h>

#include <memory>
#include <thread>

#include "base/clock.h"
#include "base/log.h"
#include "coordinator/coordinator.h"
#include "coordinator/store/store.h"
#include "jobs/tasks/task.h"
#include "tests/integration/engine/harness.h"
#include "transport/wire.h"

namespace codesweep::testing {
namespace {

constexpr int kTenMinutesMs = 600'000;

TEST(PushDispatch, SubmittedCellsReachAnIdleWorkerWithoutAnyTimer) {
  TempDir dir;
  const std::string db = dir / "push.db";
  Result<std::unique_ptr<Store>> store = Store::Open(db, StoreOptions{});
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  std::unique_ptr<TaskRegistry> tasks =
      TaskRegistry::CreateLazy(std::string(CODESWEEP_SOURCE_DIR) + "/data");
  CoordinatorLoopOptions lo;
  lo.core.hb_ms = kTenMinutesMs;
  lo.core.idle_fetch_ms = kTenMinutesMs;
  lo.core.expiry_check_ms = kTenMinutesMs;
  lo.core.limits_snapshot_ms = kTenMinutesMs;
  lo.progress_interval_ms = kTenMinutesMs;
  lo.tasks = tasks.get();
  WireContext ctx;
  SystemClock clock;
  Logger log(stderr, LogLevel::kWarn, "coordinator");
  Coordinator coord(**store, ctx, clock, log, lo);
  ASSERT_TRUE(coord.Bind("tcp://127.0.0.1:0").ok());
  Status ran;
  std::thread loop([&] { ran = coord.Run(); });
  Proc worker(WorkerArgs(coord.endpoint(), 1), dir / "worker.log");
  // The worker's HELLO and CREDIT reach the coordinator (its first lease row appears only with
  // a job; wait for it to be registered instead).
  ASSERT_TRUE(WaitFor([&] { return QueryInt(db, "SELECT count(*) FROM workers") == 1; }, 20'000))
      << worker.log();
  auto results = [&] { return QueryInt(db, "SELECT count(*) FROM results"); };
  auto submit = [&](int samples, const std::string& log_name) {
    Proc p({Binary(), "submit", WriteSweep(dir, "push", samples), "--connect", coord.endpoint()},
           dir / log_name);
    EXPECT_TRUE(p.Wait(20'000));
    EXPECT_EQ(p.exit_code(), 0) << p.log();
    return p.log();
  };
  // A new sweep, then the same sweep extended by 4 cells, each into an idle system.
  EXPECT_NE(submit(1, "submit1.log").find("4 cells, 4 new"), std::string::npos);
  EXPECT_TRUE(WaitFor([&] { return results() == 4; }, 20'000)) << JobStates(db);
  EXPECT_NE(submit(2, "submit2.log").find("8 cells, 4 new"), std::string::npos);
  EXPECT_TRUE(WaitFor([&] { return results() == 8; }, 20'000)) << JobStates(db);
  ExpectExactlyOnce(db, 8);
  coord.Stop();
  EXPECT_EQ(worker.Stop(), 0) << worker.log();  // its BYE wakes the loop, which sees Stop()
  loop.join();
  EXPECT_TRUE(ran.ok()) << ran.ToString();
}

}  // namespace
}  // namespace codesweep::testing
