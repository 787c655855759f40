// Worker against a scripted coordinator over inproc: credit never exceeds slots + prefetch,
// results are kept and re-sent until ACKed (also across RESET / re-HELLO), CALL/GRANT reaches the
// job through its gate, and Stop() drains and says BYE. Waits are deadlines, never sleeps.
#include "worker/worker.h"

#include <gtest/gtest.h>

#include <fstream>
#include <set>
#include <thread>

#include "schema/codec.h"

namespace codesweep {
namespace {

class FakeCoordinator {
 public:
  explicit FakeCoordinator(WireContext& ctx, const std::string& name) {
    router_ = std::move(Channel::Bind(ctx, Channel::Kind::kRouter, name, {}).value());
  }
  // Next message of type T (others are recorded and skipped), or nullopt at the deadline.
  template <class T>
  std::optional<T> Expect(int timeout_ms = 5000) {
    auto deadline = std::chrono::steady_clock::now() + Millis(timeout_ms);
    Envelope env;
    while (std::chrono::steady_clock::now() < deadline) {
      Result<bool> got = router_->RecvWait(&env, Millis(50));
      if (!got.ok() || !*got) continue;
      peer_ = env.peer;
      Result<Message> m = Decode(env.frame);
      if (!m.ok()) continue;
      if (auto* c = std::get_if<CreditMsg>(&*m)) credit_ += c->n;
      if (auto* t = std::get_if<T>(&*m)) return *t;
    }
    return std::nullopt;
  }
  void Send(const Message& m) { ASSERT_TRUE(router_->Send(peer_, Encode(m)).ok()); }
  int credit() const { return credit_; }

 private:
  std::unique_ptr<Channel> router_;
  std::string peer_;
  int credit_ = 0;
};

JobMsg MakeJob(int64_t id, int64_t lease) {
  JobMsg j;
  j.lease = lease;
  j.attempt = 1;
  j.spec.job = JobId(id);
  j.spec.task = "game24";
  return j;
}

struct WorkerHarness {
  WorkerHarness(WireContext& ctx, const std::string& ep, JobRunner runner, int slots = 2) {
    WorkerOptions o;
    o.connect = ep;
    o.worker_id = "w-test";
    o.slots = slots;
    o.prefetch = 1;
    o.drain_timeout_ms = 3000;
    worker = std::make_unique<Worker>(ctx, clock, Logger::Null(), o, std::move(runner));
    thread = std::thread([this] { status = worker->Run(); });
  }
  ~WorkerHarness() {
    worker->Stop();
    thread.join();
  }
  SystemClock clock;
  std::unique_ptr<Worker> worker;
  std::thread thread;
  Status status;
};

Outcome Correct(const JobSpec&, CallGate&) {
  Outcome o;
  o.correct = true;
  return o;
}

TEST(WorkerTest, CreditIsBoundedAndResultsAreKeptUntilAcked) {
  WireContext ctx;
  FakeCoordinator coord(ctx, "inproc://wt1");
  WorkerHarness h(ctx, "inproc://wt1", Correct);
  ASSERT_TRUE(coord.Expect<HelloMsg>().has_value());
  coord.Send(WelcomeMsg{1, 1000, 3, 60000});
  ASSERT_TRUE(coord.Expect<CreditMsg>().has_value());
  EXPECT_LE(coord.credit(), 3);  // slots 2 + prefetch 1
  coord.Send(MakeJob(10, 100));
  std::optional<ResultMsg> r = coord.Expect<ResultMsg>();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->job, 10);
  EXPECT_EQ(r->lease, 100);
  EXPECT_TRUE(r->outcome.correct);
  // Not ACKed: a RESET makes the worker re-announce it and re-send it after WELCOME.
  coord.Send(ResetMsg{});
  std::optional<HelloMsg> hello = coord.Expect<HelloMsg>();
  ASSERT_TRUE(hello.has_value());
  ASSERT_EQ(hello->unacked.size(), 1u);
  EXPECT_EQ(hello->unacked[0], (LeaseRef{10, 100}));
  coord.Send(WelcomeMsg{2, 1000, 3, 60000});
  r = coord.Expect<ResultMsg>();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->job, 10);
  coord.Send(AckMsg{10, 100});
  coord.Send(ResetMsg{});
  hello = coord.Expect<HelloMsg>();
  ASSERT_TRUE(hello.has_value());
  EXPECT_TRUE(hello->unacked.empty());
  EXPECT_LE(coord.credit(), 3 + 1 + 3);  // at most one slot freed, plus a fresh window
}

TEST(WorkerTest, CallGoesThroughTheGate) {
  WireContext ctx;
  FakeCoordinator coord(ctx, "inproc://wt2");
  WorkerHarness h(ctx, "inproc://wt2", [](const JobSpec&, CallGate& gate) {
    Outcome o;
    CallMsg call;
    call.call_key = "ck";
    Result<GrantMsg> g = gate.Acquire(call);
    o.correct = g.ok() && g->cached && g->response_json == "{}";
    CallResultMsg cr;
    cr.call_key = "ck";
    cr.ok = true;
    gate.Report(cr);
    return o;
  });
  ASSERT_TRUE(coord.Expect<HelloMsg>().has_value());
  coord.Send(WelcomeMsg{1, 1000, 3, 60000});
  coord.Send(MakeJob(5, 50));
  std::optional<CallMsg> call = coord.Expect<CallMsg>();
  ASSERT_TRUE(call.has_value());
  EXPECT_EQ(call->job, 5);
  EXPECT_EQ(call->lease, 50);
  coord.Send(GrantMsg{"ck", true, "{}"});
  std::optional<CallResultMsg> cr = coord.Expect<CallResultMsg>();
  ASSERT_TRUE(cr.has_value());
  EXPECT_EQ(cr->lease, 50);
  std::optional<ResultMsg> r = coord.Expect<ResultMsg>();
  ASSERT_TRUE(r.has_value());
  EXPECT_TRUE(r->outcome.correct);
}

// GRANTs find their slots by call key (pending CALLs are kept per key): answered in the reverse
// order of the CALLs, each job gets its own answer; a GRANT nobody waits for is dropped.
TEST(WorkerTest, GrantsReachTheirSlotsByCallKey) {
  WireContext ctx;
  FakeCoordinator coord(ctx, "inproc://wt4");
  WorkerHarness h(ctx, "inproc://wt4", [](const JobSpec& spec, CallGate& gate) {
    CallMsg call;
    call.call_key = "k" + std::to_string(spec.job.value());
    Result<GrantMsg> g = gate.Acquire(call);
    Outcome o;
    o.correct = g.ok() && g->response_json == "answer for " + call.call_key;
    return o;
  });
  ASSERT_TRUE(coord.Expect<HelloMsg>().has_value());
  coord.Send(WelcomeMsg{1, 1000, 3, 60000});
  coord.Send(MakeJob(1, 10));
  coord.Send(MakeJob(2, 20));
  std::set<std::string> keys;
  for (int i = 0; i < 2; ++i) {
    std::optional<CallMsg> call = coord.Expect<CallMsg>();
    ASSERT_TRUE(call.has_value());
    keys.insert(call->call_key);
  }
  EXPECT_EQ(keys, (std::set<std::string>{"k1", "k2"}));
  coord.Send(GrantMsg{"nobody", true, "answer for nobody"});
  coord.Send(GrantMsg{"k2", true, "answer for k2"});
  coord.Send(GrantMsg{"k1", true, "answer for k1"});
  for (int i = 0; i < 2; ++i) {
    std::optional<ResultMsg> r = coord.Expect<ResultMsg>();
    ASSERT_TRUE(r.has_value());
    EXPECT_TRUE(r->outcome.correct) << "job " << r->job;
    coord.Send(AckMsg{r->job, r->lease});
  }
}

// Slots cost no socket and no file descriptor: a worker with more slots than one zmq context
// holds sockets (1,023 by default; one inproc DEALER per slot stopped slot ~1,020 from starting)
// has every slot waiting on a CALL at the same time, and every GRANT reaches its job.
int ThreadsOfThisProcess() {
  std::ifstream in("/proc/self/status");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("Threads:", 0) == 0) return std::atoi(line.c_str() + 8);
  }
  return -1;
}

// Issue 16: with a thread per slot, a 10,000-slot worker spent its first half minute creating
// threads on a loaded machine (no call out yet), and every wake-up of the loop competed with
// thousands of runnable slot threads. Slots are fibers on a few carriers now.
TEST(WorkerTest, ThousandsOfSlotsWaitOnCallsAtOnce) {
  constexpr int kSlots = 5'000;
  WireContext ctx;
  FakeCoordinator coord(ctx, "inproc://wt5");
  WorkerHarness h(
      ctx, "inproc://wt5",
      [](const JobSpec& spec, CallGate& gate) {
        CallMsg call;
        call.call_key = "k" + std::to_string(spec.job.value());
        Result<GrantMsg> g = gate.Acquire(call);
        Outcome o;
        o.correct = g.ok() && g->response_json == call.call_key;
        return o;
      },
      kSlots);
  ASSERT_TRUE(coord.Expect<HelloMsg>().has_value());
  coord.Send(WelcomeMsg{1, 1000, 3, 60000});
  for (int i = 1; i <= kSlots; ++i) coord.Send(MakeJob(i, i));
  std::set<std::string> keys;
  for (int i = 0; i < kSlots; ++i) {
    std::optional<CallMsg> call = coord.Expect<CallMsg>(20'000);
    ASSERT_TRUE(call.has_value()) << "only " << keys.size() << " calls in flight";
    keys.insert(call->call_key);
  }
  ASSERT_EQ(keys.size(), static_cast<size_t>(kSlots));
  // Every slot waits for its GRANT, and the slots are not threads.
  EXPECT_LT(ThreadsOfThisProcess(), 400);
  for (const std::string& k : keys) coord.Send(GrantMsg{k, true, k});
  std::set<int64_t> done;
  for (int i = 0; i < kSlots; ++i) {
    std::optional<ResultMsg> r = coord.Expect<ResultMsg>(20'000);
    ASSERT_TRUE(r.has_value()) << "only " << done.size() << " results";
    EXPECT_TRUE(r->outcome.correct) << "job " << r->job;
    done.insert(r->job);
    coord.Send(AckMsg{r->job, r->lease});
  }
  EXPECT_EQ(done.size(), static_cast<size_t>(kSlots));
}

TEST(WorkerTest, StopDrainsAndSaysBye) {
  WireContext ctx;
  FakeCoordinator coord(ctx, "inproc://wt3");
  auto h = std::make_unique<WorkerHarness>(ctx, "inproc://wt3", Correct);
  ASSERT_TRUE(coord.Expect<HelloMsg>().has_value());
  coord.Send(WelcomeMsg{1, 1000, 3, 60000});
  coord.Send(MakeJob(1, 1));
  std::optional<ResultMsg> r = coord.Expect<ResultMsg>();
  ASSERT_TRUE(r.has_value());
  h->worker->Stop();
  coord.Send(AckMsg{1, 1});
  EXPECT_TRUE(coord.Expect<ByeMsg>().has_value());
  h.reset();  // joins; Run returned
}

}  // namespace
}  // namespace codesweep
