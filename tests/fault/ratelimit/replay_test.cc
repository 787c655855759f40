// kill -9 a worker in the middle of multi-turn jobs and run on: every call whose response was
// stored before the kill is replayed from the call cache, never sent to fakellm again. Proof:
// after the kill fakellm answers exactly the calls that were not stored (new cache rows).
#include <gtest/gtest.h>

#include "tests/integration/ratelimit/fakellm_harness.h"

namespace codesweep::testing {
namespace {

TEST(RateLimitFault, KilledWorkersFinishedCallsAreReplayedFromTheCache) {
  TempDir dir;
  FakeLlm llm(dir, {"--latency-ms", "150"});
  ASSERT_GT(llm.port(), 0);
  FakeSweep s;
  s.samples = 10;  // 40 cells x up to 3 turns
  s.turns = 3;
  const std::string db = dir / "rl.db";
  Proc coord(CoordinatorArgs(WriteFakeSweep(dir, s, llm.base_url()), db, "tcp://127.0.0.1:0"),
             dir / "coord.log");
  std::string endpoint = WaitForEndpoint(coord, 20'000);
  ASSERT_FALSE(endpoint.empty()) << coord.log();
  auto cached = [&] { return QueryInt(db, "SELECT count(*) FROM call_cache"); };
  {
    Proc worker(WorkerArgs(endpoint, 16), dir / "w1.log");
    ASSERT_TRUE(WaitFor([&] { return cached() >= 24; }, 60'000)) << worker.log();
    worker.Kill(SIGKILL);
  }
  const int64_t done_at_kill = QueryInt(db, "SELECT count(*) FROM jobs WHERE state = 'done'");
  ASSERT_LT(done_at_kill, 40) << "the kill came too late to interrupt jobs";
  // What the coordinator stored from the dead worker is committed within a commit interval.
  int64_t stored = -1;
  WaitFor(
      [&] {
        int64_t now = cached();
        bool stable = now == stored;
        stored = now;
        return stable;
      },
      5'000);
  // Requests the dead worker left in fakellm finish (and count) before the counters restart.
  ASSERT_TRUE(WaitFor([&] { return llm.Stat("inflight") == 0; }, 5'000));
  llm.Post("/admin/reset-stats", "{}");
  Proc worker2(WorkerArgs(endpoint, 16), dir / "w2.log");
  ASSERT_TRUE(coord.Wait(90'000)) << "sweep did not finish";
  ExpectExactlyOnce(db, 40);
  const int64_t final_cached = cached();
  const int64_t sent_after = llm.Stat("ok");
  const int64_t replayed = QueryInt(
      db, "SELECT count(*) FROM calls c JOIN jobs j ON j.id = c.job_id WHERE c.cached = 1");
  std::printf("stored before re-run %lld, final %lld, sent after %lld, replayed %lld\n",
              static_cast<long long>(stored), static_cast<long long>(final_cached),
              static_cast<long long>(sent_after), static_cast<long long>(replayed));
  EXPECT_EQ(sent_after, final_cached - stored);  // nothing stored was paid for twice
  EXPECT_GT(replayed, 0);                        // interrupted jobs resumed from the cache
  // Interrupted jobs were leased again; the lost lease gave its attempt back (issue 20).
  EXPECT_GT(QueryInt(db, "SELECT max(n) FROM (SELECT count(*) AS n FROM attempts GROUP BY job_id)"),
            1);
}

}  // namespace
}  // namespace codesweep::testing
