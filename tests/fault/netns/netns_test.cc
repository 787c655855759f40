// Partition tests across "hosts": four network namespaces (coordinator 10.77.0.1, workers .2-.4)
// on a bridge that lives in a fifth, hub namespace, so nothing is routed outside the test. Links
// are cut by downing the hub end of a node's veth. Coordinator and workers talk over CURVE, as
// on a real cluster. Skips (with the reason) where the kernel or user may not make namespaces.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>

#include "tests/integration/engine/harness.h"

namespace codesweep::testing {
namespace {

// Runs a shell command; returns its exit status (output goes to `log` when given).
int Sh(const std::string& cmd, std::string* out = nullptr) {
  std::string full = cmd + " 2>&1";
  FILE* p = popen(full.c_str(), "r");
  if (!p) return -1;
  char buf[512];
  std::string text;
  while (fgets(buf, sizeof(buf), p)) text += buf;
  int rc = pclose(p);
  if (out) *out = text;
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

// The test network. Destroying it deletes every namespace (and with them the veths and bridge),
// also when the test failed half-way.
class TestNet {
 public:
  static constexpr int kNodes = 4;  // node 0 = coordinator, 1..3 = workers
  TestNet() : tag_("csf" + std::to_string(getpid() % 100000)) {}
  ~TestNet() {
    for (int i = 0; i <= kNodes; ++i) Sh("ip netns del " + Ns(i));
  }
  // "" on success, else why the network cannot be built.
  std::string Build() {
    std::string out;
    if (geteuid() != 0) return "needs root for ip netns";
    if (Sh("ip netns add " + Ns(kNodes), &out) != 0) return "kernel refused ip netns add: " + out;
    std::string hub = "ip -n " + Ns(kNodes) + " ";
    if (Sh(hub + "link add br0 type bridge", &out) != 0 || Sh(hub + "link set br0 up") != 0) {
      return "cannot create a bridge: " + out;
    }
    for (int i = 0; i < kNodes; ++i) {
      if (Sh("ip netns add " + Ns(i), &out) != 0) return "ip netns add: " + out;
      std::string node = "ip -n " + Ns(i) + " ";
      std::string v = "v" + std::to_string(i);
      bool ok = Sh(hub + "link add " + v + " type veth peer name eth0 netns " + Ns(i), &out) == 0 &&
                Sh(hub + "link set " + v + " master br0 up", &out) == 0 &&
                Sh(node + "addr add " + Addr(i) + "/24 dev eth0", &out) == 0 &&
                Sh(node + "link set eth0 up", &out) == 0 && Sh(node + "link set lo up", &out) == 0;
      if (!ok) return "veth setup: " + out;
    }
    return "";
  }
  std::string Ns(int i) const { return tag_ + (i == kNodes ? "h" : std::to_string(i)); }
  static std::string Addr(int i) { return "10.77.0." + std::to_string(i + 1); }
  // Cuts or heals node i's link (the hub end of its veth).
  void SetLink(int i, bool up) {
    ASSERT_EQ(
        Sh("ip -n " + Ns(kNodes) + " link set v" + std::to_string(i) + (up ? " up" : " down")), 0);
  }
  std::vector<std::string> In(int i, std::vector<std::string> args) const {
    args.insert(args.begin(), {"/usr/sbin/ip", "netns", "exec", Ns(i)});
    return args;
  }

 private:
  std::string tag_;
};

class NetnsFault : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why = net_.Build();
    if (!why.empty()) GTEST_SKIP() << "network namespaces unavailable: " << why;
    for (std::string k : {"server", "worker"}) {
      Proc p({Binary(), "keygen", "--out", dir_ / k}, dir_ / (k + ".keygen.log"));
      ASSERT_TRUE(p.Wait(10'000));
      ASSERT_EQ(p.exit_code(), 0) << p.log();
    }
    std::filesystem::create_directories(dir_ / "authorized");
    std::filesystem::copy_file(dir_ / "worker.pub", dir_ / "authorized/worker.pub");
  }

  // `samples` x 4 cells, each taking `latency_ms` in the sim model.
  void Start(int samples, int latency_ms, int worker_port = 5555) {
    cells_ = 4 * samples;
    std::string sweep = WriteSweep(dir_, "netns", samples, latency_ms);
    std::vector<std::string> args =
        CoordinatorArgs(sweep, db(), "tcp://" + TestNet::Addr(0) + ":5555");
    args.insert(args.end(), {"--curve-secret", dir_ / "server.key", "--authorized-keys",
                             dir_ / "authorized", "-v"});
    coord_ = std::make_unique<Proc>(net_.In(0, args), dir_ / "coord.log");
    ASSERT_FALSE(WaitForEndpoint(*coord_, 20'000).empty()) << coord_->log();
    for (int i = 1; i <= 3; ++i) {
      std::vector<std::string> w =
          WorkerArgs("tcp://" + TestNet::Addr(0) + ":" + std::to_string(worker_port), 2);
      w.insert(w.end(), {"--id", "w" + std::to_string(i), "--server-key", dir_ / "server.pub",
                         "--curve-secret", dir_ / "worker.key"});
      workers_.push_back(
          std::make_unique<Proc>(net_.In(i, w), dir_ / ("w" + std::to_string(i) + ".log")));
    }
  }

  int64_t Done() { return QueryInt(db(), "SELECT count(*) FROM results"); }
  bool WaitDone(int timeout_ms) {
    bool ok = coord_->Wait(timeout_ms);
    return ok && coord_->exit_code() == 0;
  }
  int Count(const std::string& text, const std::string& what) {
    int n = 0;
    for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
    return n;
  }
  void StopWorkers() {
    for (auto& w : workers_) w->Signal(SIGTERM);
    for (auto& w : workers_) {
      EXPECT_TRUE(w->Wait(20'000));
      EXPECT_EQ(w->exit_code(), 0) << w->log();
    }
  }
  std::string db() const { return dir_ / "sweep.db"; }

  TestNet net_;
  TempDir dir_;
  int64_t cells_ = 0;
  std::unique_ptr<Proc> coord_;
  std::vector<std::unique_ptr<Proc>> workers_;
};

// One worker is cut off mid-run for longer than the lease: its jobs go to the others; when the
// link heals, its buffered results are stale and dropped; every cell has exactly one result.
TEST_F(NetnsFault, WorkerPartitionedThenHealed) {
  ASSERT_NO_FATAL_FAILURE(Start(/*samples=*/100, /*latency_ms=*/200));
  ASSERT_TRUE(WaitFor([&] { return Done() >= 20; }, 30'000)) << coord_->log();
  net_.SetLink(1, false);
  ASSERT_TRUE(WaitFor(
      [&] {
        return coord_->log().find("worker gone worker=w1") != std::string::npos ||
               coord_->log().find("requeued") != std::string::npos;
      },
      15'000))
      << coord_->log();
  // Long enough for w1 to finish what it held and give up on the coordinator.
  ASSERT_TRUE(WaitFor([&] { return workers_[0]->log().find("reconnecting") != std::string::npos; },
                      15'000));
  std::this_thread::sleep_for(std::chrono::seconds(2));  // partition length, not a sync point
  net_.SetLink(1, true);
  EXPECT_TRUE(WaitFor([&] { return Count(coord_->log(), "worker up worker=w1") >= 2; }, 30'000))
      << "w1 should rejoin while the sweep still runs";
  ASSERT_TRUE(WaitDone(90'000)) << coord_->log();
  std::string log = coord_->log();
  size_t rejoin = log.find("worker up worker=w1", log.find("worker up worker=w1") + 1);
  EXPECT_NE(log.find("stale result dropped", rejoin), std::string::npos)
      << "w1's buffered results from before the cut should be dropped as stale";
  ExpectExactlyOnce(db(), cells_);
  EXPECT_GT(QueryInt(db(),
                     "SELECT count(*) FROM attempts WHERE worker = 'w1' AND outcome = "
                     "'requeued'"),
            0);
  EXPECT_GT(QueryInt(db(),
                     "SELECT count(*) FROM attempts WHERE worker <> 'w1' AND outcome = "
                     "'done'"),
            0);
  StopWorkers();
}

// The coordinator is unreachable for 20 s: workers keep their results, reconnect and deliver;
// nothing is lost and nothing counted twice.
TEST_F(NetnsFault, CoordinatorPartitionedFor20s) {
  ASSERT_NO_FATAL_FAILURE(Start(/*samples=*/40, /*latency_ms=*/150));
  ASSERT_TRUE(WaitFor([&] { return Done() >= 20; }, 30'000)) << coord_->log();
  net_.SetLink(0, false);
  auto cut = std::chrono::steady_clock::now();
  WaitFor([] { return false; }, 20'000);  // the partition lasts 20 s
  for (auto& w : workers_) EXPECT_TRUE(w->running()) << w->log();
  net_.SetLink(0, true);
  ASSERT_TRUE(WaitDone(120'000)) << coord_->log();
  std::printf("coordinator partition: sweep finished %.1f s after the cut\n",
              std::chrono::duration<double>(std::chrono::steady_clock::now() - cut).count());
  ExpectExactlyOnce(db(), cells_);
  int reconnects = 0;
  for (auto& w : workers_) reconnects += Count(w->log(), "reconnecting");
  EXPECT_GE(reconnects, 3) << "every worker should have lost and re-found the coordinator";
  StopWorkers();
}

// 100 ms of added round trip (50 ms each way) and 1 % loss on every link: the sweep completes.
// With sch_netem the kernel does it; without (some VM kernels) a user-space relay in the
// coordinator's namespace adds the delay and stalls 1 % of chunks by a TCP retransmit timeout.
TEST_F(NetnsFault, LatencyAndLossSweepCompletes) {
  bool netem = true;
  std::string out;
  for (int i = 0; i < TestNet::kNodes && netem; ++i) {
    netem =
        Sh("ip netns exec " + net_.Ns(i) + " tc qdisc add dev eth0 root netem delay 50ms loss 1%",
           &out) == 0;
  }
  std::unique_ptr<Proc> relay;
  int port = 5555;
  if (!netem) {
    while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
    std::printf("tc netem unavailable (%s); emulating with a user-space relay\n", out.c_str());
    port = 5556;
    relay = std::make_unique<Proc>(
        net_.In(0, {"/usr/bin/python3",
                    std::string(CODESWEEP_SOURCE_DIR) + "/tests/fault/netns/delay_relay.py",
                    TestNet::Addr(0), "5556", TestNet::Addr(0), "5555", "50", "0.01", "7"}),
        dir_ / "relay.log");
    ASSERT_TRUE(
        WaitFor([&] { return relay->log().find("relay listening") != std::string::npos; }, 10'000))
        << relay->log();
  }
  auto start = std::chrono::steady_clock::now();
  ASSERT_NO_FATAL_FAILURE(Start(/*samples=*/50, /*latency_ms=*/0, port));
  ASSERT_TRUE(WaitDone(120'000)) << coord_->log();
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("%s, 100 ms RTT + 1%% loss: %lld cells in %.1f s = %.1f cells/s\n",
              netem ? "netem" : "relay", static_cast<long long>(cells_), s, cells_ / s);
  RecordProperty("cells_per_s", std::to_string(cells_ / s));
  ExpectExactlyOnce(db(), cells_);
  StopWorkers();
}

}  // namespace
}  // namespace codesweep::testing
