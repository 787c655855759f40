// Engine fault tests: (a) a worker killed with SIGKILL after every 1,000 results and restarted, (b)
// the coordinator killed three times and restarted, (c) garbage, truncated and oversized frames at
// the coordinator port, (d) a worker stopped past its lease and resumed. In every case each cell
// ends with exactly one result.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <memory>

#include "base/hash.h"
#include "schema/codec.h"
#include "tests/integration/engine/harness.h"
#include "transport/wire.h"

namespace codesweep::testing {
namespace {

int64_t DoneCount(const std::string& db) {
  return QueryInt(db, "SELECT count(*) FROM jobs WHERE state = 'done'");
}

// Kills are tied to progress, not to wall time: a victim dies only after the sweep has finished
// another kKillEvery results, so a slow (sanitized, loaded) machine gets the same number of kills
// of workers that had work in hand, instead of killing workers before they ever started.
TEST(EngineFault, KilledWorkersLoseNoCell) {
  // 6,000 cells, a kill every 300: 19 kills. Under ASan+UBSan the cells run at ~80/s.
  constexpr int64_t kCells = 6'000, kKillEvery = 300;
  TempDir dir;
  std::string sweep = WriteSweep(dir, "killw", kCells / 4);
  std::string db = dir / "killw.db";
  Proc coord(CoordinatorArgs(sweep, db, "tcp://127.0.0.1:0"), dir / "coord.log");
  std::string ep = WaitForEndpoint(coord, 30'000);
  ASSERT_FALSE(ep.empty()) << coord.log();
  std::vector<std::unique_ptr<Proc>> workers;
  int started = 0;
  auto start_worker = [&] {
    return std::make_unique<Proc>(WorkerArgs(ep, 4), dir / ("w" + std::to_string(started++)));
  };
  for (int i = 0; i < 2; ++i) workers.push_back(start_worker());
  auto where = [&] { return JobStates(db) + "; workers started: " + std::to_string(started); };
  Rng rng(99);
  int kills = 0;
  for (int64_t next = kKillEvery; next < kCells; next += kKillEvery) {
    ASSERT_TRUE(WaitFor([&] { return DoneCount(db) >= next || !coord.running(); }, 120'000))
        << "no progress to " << next << " done: " << where() << "\n"
        << coord.log();
    if (!coord.running()) break;
    size_t victim = rng.Uniform(0, 1);
    workers[victim]->Kill(SIGKILL);
    ++kills;
    workers[victim] = start_worker();
  }
  ASSERT_TRUE(coord.Wait(180'000)) << where() << "\n" << coord.log();
  EXPECT_EQ(coord.exit_code(), 0) << coord.log();
  EXPECT_GE(kills, 10) << where();
  ExpectExactlyOnce(db, kCells);
  EXPECT_GT(QueryInt(db, "SELECT count(*) FROM attempts WHERE outcome = 'requeued'"), 0);
}

TEST(EngineFault, KilledCoordinatorLosesNoCell) {
  TempDir dir;
  std::string sweep = WriteSweep(dir, "killc", 1500);  // 6,000 cells
  std::string db = dir / "killc.db";
  auto coord =
      std::make_unique<Proc>(CoordinatorArgs(sweep, db, "tcp://127.0.0.1:0"), dir / "coord0.log");
  std::string ep = WaitForEndpoint(*coord, 30'000);
  ASSERT_FALSE(ep.empty()) << coord->log();
  Proc w1(WorkerArgs(ep, 4), dir / "w1.log");
  Proc w2(WorkerArgs(ep, 4), dir / "w2.log");
  for (int round = 1; round <= 3; ++round) {
    int64_t before = std::max<int64_t>(DoneCount(db), 0);
    // Let the run make some progress, then kill -9 the coordinator and start it again.
    ASSERT_TRUE(WaitFor([&] { return DoneCount(db) > before + 1000; }, 120'000))
        << "round " << round << ": " << JobStates(db) << "\n"
        << coord->log();
    ASSERT_TRUE(coord->running()) << "finished too early to test round " << round;
    coord->Kill(SIGKILL);
    coord = std::make_unique<Proc>(CoordinatorArgs(sweep, db, ep),
                                   dir / ("coord" + std::to_string(round) + ".log"));
    ASSERT_FALSE(WaitForEndpoint(*coord, 30'000).empty()) << coord->log();
  }
  ASSERT_TRUE(coord->Wait(180'000)) << coord->log();
  EXPECT_EQ(coord->exit_code(), 0) << coord->log();
  ExpectExactlyOnce(db, 6000);
}

void SendRawTcp(int port, const std::string& bytes) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
    (void)!write(fd, bytes.data(), bytes.size());
  }
  close(fd);
}

TEST(EngineFault, BadFramesDoNotHurtTheCoordinator) {
  TempDir dir;
  std::string sweep = WriteSweep(dir, "garbage", 500);  // 2,000 cells
  std::string db = dir / "garbage.db";
  Proc coord(CoordinatorArgs(sweep, db, "tcp://127.0.0.1:0"), dir / "coord.log");
  std::string ep = WaitForEndpoint(coord, 30'000);
  ASSERT_FALSE(ep.empty()) << coord.log();
  int port = std::atoi(ep.substr(ep.rfind(':') + 1).c_str());
  Rng rng(5);
  std::string noise;
  for (int i = 0; i < 100'000; ++i) noise += static_cast<char>(rng.Uniform(0, 255));
  SendRawTcp(port, noise);  // not even ZMTP
  WireContext ctx;
  ChannelOptions o;
  o.identity = "attacker";
  auto bad = std::move(Channel::Connect(ctx, Channel::Kind::kDealer, ep, o).value());
  std::string valid = Encode(HelloMsg{1, "attacker", "h", 1, 1, {}, {}, {}});
  for (int i = 0; i < 200; ++i) {
    std::string frame = noise.substr(rng.Uniform(0, 90'000), rng.Uniform(0, 300));
    (void)bad->Send(frame);                                              // garbage
    (void)bad->Send(valid.substr(0, rng.Uniform(0, valid.size() - 1)));  // truncated
  }
  (void)bad->Send(std::string(kMaxFrameBytes + 4096, 'x'));  // oversized: zmq drops the peer
  Proc w1(WorkerArgs(ep, 4), dir / "w1.log");
  SendRawTcp(port, noise.substr(0, 5000));
  Proc w2(WorkerArgs(ep, 4), dir / "w2.log");
  ASSERT_TRUE(coord.Wait(120'000)) << coord.log();
  EXPECT_EQ(coord.exit_code(), 0) << coord.log();
  ExpectExactlyOnce(db, 2000);
}

TEST(EngineFault, StoppedWorkerLateResultsAreDropped) {
  TempDir dir;
  std::string sweep = WriteSweep(dir, "stop", 100, /*latency_ms=*/20);  // 400 cells
  std::string db = dir / "stop.db";
  std::vector<std::string> args = CoordinatorArgs(sweep, db, "tcp://127.0.0.1:0");
  args[args.size() - 3] = "1000";  // --lease-ms
  Proc coord(args, dir / "coord.log");
  std::string ep = WaitForEndpoint(coord, 30'000);
  ASSERT_FALSE(ep.empty()) << coord.log();
  Proc a(WorkerArgs(ep, 8), dir / "a.log");
  ASSERT_TRUE(WaitFor([&] { return DoneCount(db) >= 40; }, 30'000));
  a.Signal(SIGSTOP);
  // The coordinator gives up on A (silent past liveness) and requeues its leases.
  ASSERT_TRUE(WaitFor(
      [&] { return QueryInt(db, "SELECT count(*) FROM attempts WHERE outcome='requeued'") > 0; },
      30'000));
  Proc b(WorkerArgs(ep, 8), dir / "b.log");
  ASSERT_TRUE(WaitFor([&] { return DoneCount(db) >= 200; }, 60'000));
  a.Signal(SIGCONT);  // A wakes up and sends its stale results
  ASSERT_TRUE(coord.Wait(120'000)) << coord.log();
  EXPECT_EQ(coord.exit_code(), 0) << coord.log();
  ExpectExactlyOnce(db, 400);
}

}  // namespace
}  // namespace codesweep::testing
