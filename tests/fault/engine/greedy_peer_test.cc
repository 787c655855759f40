// A greedy peer beside honest workers (issue 20): local processes that speak the protocol,
// announce 8 slots, send CREDIT 1,000,000 and never return a result. Three of them fall silent
// (the coordinator loses them), one keeps every job alive with heartbeats (it must be throttled
// as stalled). With max_attempts = 3 every cell must still end done, none dead. Each greedy peer
// joins after a given number of results, not after a time.
#include <gtest/gtest.h>

#include <fstream>
#include <memory>
#include <sstream>

#include "schema/codec.h"
#include "tests/integration/engine/harness.h"
#include "transport/wire.h"

namespace codesweep::testing {
namespace {

int64_t DoneCount(const std::string& db) {
  return QueryInt(db, "SELECT count(*) FROM jobs WHERE state = 'done'");
}

// A raw DEALER that takes every job it is offered and runs none. With `heartbeat` it sends
// HEARTBEAT{every job it holds} whenever pumped (and HELLO again on RESET); otherwise it says
// nothing after its CREDIT.
class GreedyPeer {
 public:
  GreedyPeer(WireContext& ctx, const std::string& endpoint, const std::string& id, bool heartbeat)
      : id_(id), heartbeat_(heartbeat) {
    ChannelOptions o;
    o.identity = id;
    ch_ = std::move(Channel::Connect(ctx, Channel::Kind::kDealer, endpoint, o).value());
    Hello();
  }
  // Reads what the coordinator sent; the heartbeating peer answers.
  void Pump() {
    Envelope env;
    bool welcomed = false;
    while (true) {
      Result<bool> got = ch_->Recv(&env);
      if (!got.ok() || !*got) break;
      Result<Message> m = Decode(env.frame);
      if (!m.ok()) continue;
      if (auto* job = std::get_if<JobMsg>(&*m)) {
        held_.push_back({job->spec.job.value(), job->lease});
        ++jobs_;
      } else if (auto* cancel = std::get_if<CancelMsg>(&*m)) {
        std::erase_if(held_, [&](const LeaseRef& r) { return r.job == cancel->job; });
      } else if (std::holds_alternative<WelcomeMsg>(*m)) {
        welcomed = true;
      } else if (heartbeat_ && std::holds_alternative<ResetMsg>(*m)) {
        Hello();
      }
    }
    if (welcomed) (void)ch_->Send(Encode(CreditMsg{1'000'000}));
    if (heartbeat_) (void)ch_->Send(Encode(HeartbeatMsg{held_}));
  }
  int64_t jobs() const { return jobs_; }

 private:
  void Hello() { (void)ch_->Send(Encode(HelloMsg{1, id_, "greedy", 1, 8, {}, {}, {}})); }

  std::string id_;
  bool heartbeat_;
  std::unique_ptr<Channel> ch_;
  std::vector<LeaseRef> held_;
  int64_t jobs_ = 0;
};

// The harness's sweep with max_attempts = 3 (the value of the original report).
std::string WriteStrictSweep(const TempDir& dir, const std::string& name, int samples) {
  std::string path = WriteSweep(dir, name, samples);
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  std::string s = text.str();
  s.replace(s.find("max_attempts = 20"), 17, "max_attempts = 3");
  std::ofstream(path) << s;
  return path;
}

TEST(EngineFault, GreedyPeersCannotTakeTheSweep) {
  TempDir dir;
  std::string sweep = WriteStrictSweep(dir, "greedy", 2000);  // 8,000 cells
  std::string db = dir / "greedy.db";
  std::vector<std::string> args = CoordinatorArgs(sweep, db, "tcp://127.0.0.1:0");
  args.insert(args.end(), {"--stall-ms", "3000"});
  Proc coord(args, dir / "coord.log");
  std::string ep = WaitForEndpoint(coord, 30'000);
  ASSERT_FALSE(ep.empty()) << coord.log();
  Proc w1(WorkerArgs(ep, 4), dir / "w1.log");
  Proc w2(WorkerArgs(ep, 4), dir / "w2.log");
  WireContext ctx;
  std::vector<std::unique_ptr<GreedyPeer>> greedy;
  auto pump = [&] {
    for (auto& g : greedy) g->Pump();
  };
  // Three silent ones, then one that heartbeats, each after 1,000 more results.
  for (int i = 0; i < 4; ++i) {
    const int64_t after = 1'000 * (i + 1);
    ASSERT_TRUE(WaitFor(
        [&] {
          pump();
          return DoneCount(db) >= after || !coord.running();
        },
        120'000))
        << coord.log();
    ASSERT_TRUE(coord.running()) << "finished before greedy peer " << i << "\n" << coord.log();
    greedy.push_back(std::make_unique<GreedyPeer>(ctx, ep, "greedy" + std::to_string(i), i == 3));
  }
  ASSERT_TRUE(WaitFor(
      [&] {
        pump();
        return !coord.running();
      },
      180'000))
      << coord.log();
  ASSERT_TRUE(coord.Wait(10'000));
  EXPECT_EQ(coord.exit_code(), 0) << coord.log();
  ExpectExactlyOnce(db, 8000);
  EXPECT_EQ(QueryInt(db, "SELECT count(*) FROM jobs WHERE state = 'dead'"), 0);
  for (int i = 0; i < 3; ++i) EXPECT_LE(greedy[i]->jobs(), 16) << "slots 8 + prefetch 8 at most";
  EXPECT_NE(coord.log().find("worker stalled worker=greedy3"), std::string::npos) << coord.log();
}

}  // namespace
}  // namespace codesweep::testing
