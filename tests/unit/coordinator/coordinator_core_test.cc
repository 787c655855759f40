// CoordinatorCore with a FakeClock and a real temporary Store: credit-bounded dispatch, ACK only
// after commit, fencing of stale results, liveness, restart grace, CALL/GRANT via the call cache.
#include "coordinator/coordinator_core.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "coordinator/store/report_queries.h"
#include "jobs/tasks/task.h"
#include "schema/codec.h"

namespace codesweep {
namespace {

class CoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("cs_core_" + std::to_string(::getpid()) + "_" + std::to_string(counter_++));
    std::filesystem::create_directories(dir_);
    OpenStore();
    SweepRecord sweep{"t", 7, max_attempts_, "t.toml", "", "{}"};
    Result<int64_t> sid = store_->UpsertSweep(sweep);
    ASSERT_TRUE(sid.ok()) << sid.status().ToString();
    sweep_id_ = *sid;
    VariantRecord v;
    v.model = {"sim:default", "sim", "default", "{}"};
    Result<int64_t> vid = store_->UpsertVariant(v);
    ASSERT_TRUE(vid.ok());
    std::vector<CellRow> cells;
    for (int i = 0; i < kCells; ++i) {
      cells.push_back(
          {CellKey("cell" + std::to_string(i)), "game24", "4", i, *vid, "only_question", 1});
    }
    ASSERT_TRUE(store_->BeginCellLoad().ok());  // as ExpandIntoStore loads a fresh database
    ASSERT_TRUE(store_->InsertCells(sweep_id_, cells).ok());
    ASSERT_TRUE(store_->FinishCellLoad().ok());
    ASSERT_TRUE(store_->Commit().ok());
    opt_.requeue_backoff_ms = 1000;
    NewCore();
  }
  void TearDown() override {
    core_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  void OpenStore() {
    Result<std::unique_ptr<Store>> s = Store::Open((dir_ / "db").string(), {});
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(*s);
  }
  void NewCore() {
    core_ = std::make_unique<CoordinatorCore>(*store_, clock_, Logger::Null(), limiter_, opt_);
    ASSERT_TRUE(core_->Start().ok());
  }
  std::vector<Outgoing> Step() {
    core_->Tick();
    core_->Dispatch();
    core_->MaybeCommit(false);
    return core_->TakeOutbox();
  }
  template <class T>
  std::vector<T> Of(const std::vector<Outgoing>& out, const std::string& peer = "") {
    std::vector<T> r;
    for (const Outgoing& o : out) {
      if (!peer.empty() && o.peer != peer) continue;
      if (auto* m = std::get_if<T>(&o.msg)) r.push_back(*m);
    }
    return r;
  }
  // A worker of `slots` slots (it may hold 2 x slots jobs: slots + prefetch).
  void Hello(const std::string& peer, std::vector<LeaseRef> inflight = {}, int slots = 8) {
    HelloMsg h;
    h.worker_id = peer;
    h.slots = slots;
    h.inflight = std::move(inflight);
    core_->OnMessage(peer, h);
  }
  Outcome Verdict(bool correct) {
    Outcome o;
    o.correct = correct;
    o.final_answer = "x";
    return o;
  }

  static constexpr int kCells = 10;
  static inline int counter_ = 0;
  int max_attempts_ = 3;
  std::filesystem::path dir_;
  FakeClock clock_;
  ImmediateRateLimiter limiter_;
  CoordinatorOptions opt_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<CoordinatorCore> core_;
  int64_t sweep_id_ = 0;
};

TEST_F(CoreTest, HelloGetsWelcomeAndDispatchRespectsCredit) {
  Hello("w1");
  auto out = Step();
  ASSERT_EQ(Of<WelcomeMsg>(out, "w1").size(), 1u);
  EXPECT_TRUE(Of<JobMsg>(out).empty());  // no credit yet
  core_->OnMessage("w1", CreditMsg{3});
  out = Step();
  auto jobs = Of<JobMsg>(out, "w1");
  ASSERT_EQ(jobs.size(), 3u);
  EXPECT_EQ(jobs[0].attempt, 1);
  EXPECT_EQ(jobs[0].spec.sweep, "t");
  EXPECT_EQ(jobs[0].spec.seed, 7u);
  EXPECT_EQ(jobs[0].spec.model.id, "sim:default");
  EXPECT_TRUE(Of<JobMsg>(Step()).empty());
  EXPECT_EQ(core_->progress().leased, 3);
}

TEST_F(CoreTest, AckOnlyAfterCommitAndDuplicateIsDropped) {
  Hello("w1");
  core_->OnMessage("w1", CreditMsg{1});
  auto jobs = Of<JobMsg>(Step());
  ASSERT_EQ(jobs.size(), 1u);
  ResultMsg r{jobs[0].spec.job.value(), jobs[0].lease, 1, Verdict(true)};
  core_->OnMessage("w1", r);
  core_->Dispatch();
  EXPECT_TRUE(Of<AckMsg>(core_->TakeOutbox()).empty());  // not committed yet
  EXPECT_TRUE(store_->has_pending_writes());
  core_->MaybeCommit(true);
  EXPECT_FALSE(store_->has_pending_writes());
  auto acks = Of<AckMsg>(core_->TakeOutbox());
  ASSERT_EQ(acks.size(), 1u);
  EXPECT_EQ(acks[0].job, r.job);
  EXPECT_EQ(core_->progress().terminal, 1);
  core_->OnMessage("w1", r);  // duplicate
  core_->MaybeCommit(true);
  EXPECT_EQ(Of<AckMsg>(core_->TakeOutbox()).size(), 1u);
  EXPECT_EQ(core_->progress().terminal, 1);
  EXPECT_EQ(core_->progress().correct, 1);
}

TEST_F(CoreTest, SilentWorkerLosesLeasesAndItsLateResultIsStale) {
  Hello("w1");
  core_->OnMessage("w1", CreditMsg{2});
  auto jobs = Of<JobMsg>(Step());
  ASSERT_EQ(jobs.size(), 2u);
  clock_.Advance(Millis(opt_.hb_ms * opt_.liveness + 1));
  Step();
  EXPECT_EQ(core_->progress().workers, 0);
  Result<JobRow> row = store_->GetJob(jobs[0].spec.job);
  ASSERT_TRUE(row.ok());
  EXPECT_EQ(row->state, JobState::kPending);
  // The late result is ACKed (so the worker forgets it) but not counted.
  core_->OnMessage("w1", ResultMsg{jobs[0].spec.job.value(), jobs[0].lease, 1, Verdict(true)});
  core_->MaybeCommit(true);
  auto out = core_->TakeOutbox();
  EXPECT_EQ(Of<AckMsg>(out).size(), 1u);
  EXPECT_EQ(Of<ResetMsg>(out).size(), 1u);
  EXPECT_EQ(core_->progress().terminal, 0);
  // After the back-off the job goes to another worker with a new lease; the lost lease gave its
  // attempt back, so this is attempt 1 again.
  Hello("w2");
  core_->OnMessage("w2", CreditMsg{kCells});
  clock_.Advance(Millis(opt_.requeue_backoff_ms + 1));
  core_->OnMessage("w2", HeartbeatMsg{});
  auto again = Of<JobMsg>(Step(), "w2");
  ASSERT_EQ(again.size(), static_cast<size_t>(kCells));
  bool found = false;
  for (const JobMsg& j : again) {
    if (j.spec.job == jobs[0].spec.job) {
      found = true;
      EXPECT_EQ(j.attempt, 1);
      EXPECT_GT(j.lease, jobs[0].lease);
    }
  }
  EXPECT_TRUE(found);
}

// A disconnected worker's jobs go back at once and are dispatched before the jobs that were
// still pending: the peer benchmark's kill -9 re-dispatched them only after the whole rest of
// the sweep (5.8 s), because the page buffer was served first.
TEST_F(CoreTest, DisconnectedWorkersJobsAreDispatchedFirst) {
  Hello("w1");
  core_->OnMessage("w1", CreditMsg{2});
  auto held = Of<JobMsg>(Step(), "w1");
  ASSERT_EQ(held.size(), 2u);
  Hello("w2");
  Step();
  core_->OnDisconnected("w1");
  core_->OnMessage("w2", CreditMsg{2});
  auto again = Of<JobMsg>(Step(), "w2");
  ASSERT_EQ(again.size(), 2u);
  EXPECT_EQ(again[0].spec.job, held[0].spec.job);
  EXPECT_EQ(again[1].spec.job, held[1].spec.job);
}

TEST_F(CoreTest, WorkersTableFollowsLivenessAndShutdown) {
  auto worker = [&](const std::string& id) -> std::pair<std::string, int> {
    Result<std::unique_ptr<ReportDb>> db = ReportDb::Open((dir_ / "db").string());
    if (!db.ok()) return {"", -1};
    Result<QueryTable> t =
        (*db)->Query("SELECT state, slots FROM workers WHERE worker_id = '" + id + "'");
    if (!t.ok() || t->rows.empty()) return {"", -1};
    return {*t->rows[0][0], std::atoi(t->rows[0][1]->c_str())};
  };
  Hello("w1");
  Hello("w2");
  core_->MaybeCommit(true);
  EXPECT_EQ(worker("w1"), std::make_pair(std::string("up"), 8));
  // w1 goes silent and is lost; w2 keeps beating. What HELLO said of w1 stays.
  clock_.Advance(Millis(opt_.hb_ms * opt_.liveness - 10));
  core_->OnMessage("w2", HeartbeatMsg{});
  clock_.Advance(Millis(20));
  Step();
  core_->MaybeCommit(true);
  EXPECT_EQ(worker("w1"), std::make_pair(std::string("lost"), 8));
  EXPECT_EQ(worker("w2"), std::make_pair(std::string("up"), 8));
  // The loop ends: the worker still connected is no longer shown as up.
  core_->Shutdown();
  core_->MaybeCommit(true);
  EXPECT_EQ(worker("w2"), std::make_pair(std::string("gone"), 8));
}

// Regression (issue 19): workers.last_seen_ms changed only with the worker's state, so
// `status` showed the time since it connected, not its last heartbeat.
TEST_F(CoreTest, WorkersTableRecordsTheLastHeartbeat) {
  auto last_seen = [&](const std::string& id) -> int64_t {
    Result<std::unique_ptr<ReportDb>> db = ReportDb::Open((dir_ / "db").string());
    if (!db.ok()) return -1;
    Result<QueryTable> t =
        (*db)->Query("SELECT last_seen_ms FROM workers WHERE worker_id = '" + id + "'");
    if (!t.ok() || t->rows.empty()) return -1;
    return std::atoll(t->rows[0][0]->c_str());
  };
  Hello("w1");
  core_->MaybeCommit(true);
  const int64_t hello_ms = clock_.WallMs();
  EXPECT_EQ(last_seen("w1"), hello_ms);
  for (int i = 0; i < 10; ++i) {  // 10 s of heartbeats, one per second
    clock_.Advance(Millis(1000));
    core_->OnMessage("w1", HeartbeatMsg{});
    Step();
  }
  core_->MaybeCommit(true);
  // Written at least every 2 s: the last write saw a heartbeat at most 2 s before the last one.
  EXPECT_GE(last_seen("w1"), clock_.WallMs() - 2000);
  EXPECT_GT(last_seen("w1"), hello_ms);
}

// Regression (issue 20): every lost lease spent an attempt, so max_attempts lost workers made
// every cell dead though none had failed. Lost workers now give their attempts back.
TEST_F(CoreTest, LostWorkersNeverMakeJobsDead) {
  opt_.liveness = 1;
  NewCore();
  for (int round = 0; round < max_attempts_ + 2; ++round) {
    std::string peer = "w" + std::to_string(round);
    clock_.Advance(Millis(opt_.requeue_backoff_ms + 1));
    Hello(peer);
    core_->OnMessage(peer, CreditMsg{kCells});
    EXPECT_EQ(Of<JobMsg>(Step()).size(), static_cast<size_t>(kCells));
    clock_.Advance(Millis(opt_.hb_ms * opt_.liveness + 1));
    Step();
  }
  EXPECT_EQ(*store_->CountJobs(JobState::kDead, sweep_id_), 0);
  EXPECT_EQ(*store_->CountJobs(JobState::kPending, sweep_id_), kCells);
  EXPECT_EQ(core_->progress().failures, 0);
  EXPECT_FALSE(core_->Finished());
}

// Retryable failures of the cell itself still end it after max_attempts.
TEST_F(CoreTest, FailedAttemptsCappedMakeJobDead) {
  Hello("w1");
  core_->OnMessage("w1", CreditMsg{kCells});
  for (int attempt = 1; attempt <= max_attempts_; ++attempt) {
    clock_.Advance(Millis(opt_.requeue_backoff_ms + 1));
    core_->OnMessage("w1", HeartbeatMsg{});
    auto jobs = Of<JobMsg>(Step());
    ASSERT_EQ(jobs.size(), static_cast<size_t>(kCells));
    for (const JobMsg& j : jobs) {
      EXPECT_EQ(j.attempt, attempt);
      Outcome failed;
      failed.failed = failed.retryable = true;
      failed.error = "503";
      core_->OnMessage("w1", ResultMsg{j.spec.job.value(), j.lease, attempt, failed});
    }
    core_->OnMessage("w1", CreditMsg{kCells});
  }
  core_->MaybeCommit(true);
  EXPECT_EQ(*store_->CountJobs(JobState::kDead, sweep_id_), kCells);
  EXPECT_EQ(core_->progress().failures, kCells);
  EXPECT_TRUE(core_->Finished());
}

// Regression (issue 20): a peer announcing 2 slots and then credit 1,000,000 was leased every
// pending job. It may hold slots + prefetch (2 x slots) at most; results make room again.
TEST_F(CoreTest, CreditIsHeldToSlotsPlusPrefetch) {
  Hello("greedy", {}, /*slots=*/2);
  core_->OnMessage("greedy", CreditMsg{1'000'000});
  auto jobs = Of<JobMsg>(Step());
  ASSERT_EQ(jobs.size(), 4u);
  EXPECT_TRUE(Of<JobMsg>(Step()).empty());
  core_->OnMessage("greedy", ResultMsg{jobs[0].spec.job.value(), jobs[0].lease, 1, Verdict(true)});
  EXPECT_EQ(Of<JobMsg>(Step()).size(), 1u);
  EXPECT_EQ(core_->progress().leased, 4);
}

// A peer that keeps its leases alive with heartbeats but returns no result is throttled: its
// jobs go back to pending with their attempts given back, it is told to CANCEL them, and it
// may hold one job until a result of it is accepted.
TEST_F(CoreTest, StalledWorkerIsThrottledWithoutSpendingAttempts) {
  opt_.stall_ms = 5'000;
  NewCore();
  Hello("w1", {}, /*slots=*/2);
  core_->OnMessage("w1", CreditMsg{1'000'000});
  auto jobs = Of<JobMsg>(Step());
  ASSERT_EQ(jobs.size(), 4u);
  std::vector<LeaseRef> held;
  for (const JobMsg& j : jobs) held.push_back({j.spec.job.value(), j.lease});
  std::vector<CancelMsg> cancels;
  std::vector<JobMsg> next;
  for (int i = 0; i < 6 && cancels.empty(); ++i) {
    clock_.Advance(Millis(1'000));
    core_->OnMessage("w1", HeartbeatMsg{held});
    auto out = Step();
    cancels = Of<CancelMsg>(out, "w1");
    next = Of<JobMsg>(out, "w1");
  }
  ASSERT_EQ(cancels.size(), 4u);
  ASSERT_EQ(next.size(), 1u);  // throttled: one job at a time
  EXPECT_EQ(next[0].attempt, 1);
  EXPECT_EQ(*store_->CountJobs(JobState::kDead, sweep_id_), 0);
  EXPECT_EQ(*store_->CountJobs(JobState::kPending, sweep_id_), kCells - 1);
  EXPECT_TRUE(Of<JobMsg>(Step()).empty());
  core_->OnMessage("w1", ResultMsg{next[0].spec.job.value(), next[0].lease, 1, Verdict(true)});
  EXPECT_EQ(Of<JobMsg>(Step()).size(), 2u);  // a result: the window grows to two
}

// A worker waiting on an LLM call is busy, not stalled, however long the call takes; once the
// call is reported and nothing else happens for stall_ms, it is.
TEST_F(CoreTest, WorkerWithACallInFlightIsNotStalled) {
  opt_.stall_ms = 5'000;
  NewCore();
  Hello("w1", {}, /*slots=*/2);
  core_->OnMessage("w1", CreditMsg{4});
  auto jobs = Of<JobMsg>(Step());
  ASSERT_EQ(jobs.size(), 4u);
  std::vector<LeaseRef> held;
  for (const JobMsg& j : jobs) held.push_back({j.spec.job.value(), j.lease});
  CallMsg call{jobs[0].spec.job.value(), jobs[0].lease, "k", "openai", "m", "K", 10};
  core_->OnMessage("w1", call);
  auto stalled_after = [&](int seconds) {
    size_t cancels = 0;
    for (int i = 0; i < seconds; ++i) {
      clock_.Advance(Millis(1'000));
      core_->OnMessage("w1", HeartbeatMsg{held});
      cancels += Of<CancelMsg>(Step(), "w1").size();
    }
    return cancels;
  };
  EXPECT_EQ(stalled_after(8), 0u);  // the granted call has not reported yet
  CallResultMsg done;
  done.call_key = "k";
  done.provider = "openai";
  done.model = "m";
  done.key_alias = "K";
  done.ok = false;
  core_->OnMessage("w1", done);
  EXPECT_EQ(stalled_after(4), 0u);  // the report was progress
  EXPECT_EQ(stalled_after(2), 4u);
}

TEST_F(CoreTest, UnknownPeerGetsResetAndBadFramesAreSurvived) {
  core_->OnMessage("ghost", CreditMsg{5});
  auto out = Step();
  EXPECT_EQ(Of<ResetMsg>(out, "ghost").size(), 1u);
  EXPECT_TRUE(Of<JobMsg>(out).empty());
  core_->OnFrame("junk", "\xc1\xff garbage");
  core_->OnFrame("junk", std::string(100, '\x93'));
  core_->OnFrame("junk", Encode(WelcomeMsg{}));  // a coordinator message sent to us
  EXPECT_TRUE(core_->fatal().ok());
}

TEST_F(CoreTest, RestartGivesLeasesGraceAndHelloReclaimsThem) {
  opt_.restart_grace_ms = 5000;
  NewCore();
  Hello("w1");
  core_->OnMessage("w1", CreditMsg{2});
  auto jobs = Of<JobMsg>(Step());
  ASSERT_EQ(jobs.size(), 2u);
  core_->MaybeCommit(true);
  // "Restart": a new core over the same store, well past the original lease.
  clock_.Advance(Millis(opt_.lease_ms + 1));
  NewCore();
  Step();
  EXPECT_EQ(*store_->CountJobs(JobState::kLeased, sweep_id_), 2);  // grace holds them
  Hello("w1", {{jobs[0].spec.job.value(), jobs[0].lease}});        // re-claims only the first
  clock_.Advance(Millis(opt_.restart_grace_ms + 1));
  core_->OnMessage("w1", HeartbeatMsg{{{jobs[0].spec.job.value(), jobs[0].lease}}});
  Step();
  EXPECT_EQ(store_->GetJob(jobs[0].spec.job)->state, JobState::kLeased);
  EXPECT_EQ(store_->GetJob(jobs[1].spec.job)->state, JobState::kPending);
  core_->OnMessage("w1", ResultMsg{jobs[0].spec.job.value(), jobs[0].lease, 1, Verdict(false)});
  core_->MaybeCommit(true);
  EXPECT_EQ(store_->GetJob(jobs[0].spec.job)->state, JobState::kDone);
}

TEST_F(CoreTest, CallsAreGrantedThenServedFromTheCache) {
  Hello("w1");
  Step();
  CallMsg call{1, 1, "key1", "openai", "gpt", "OPENAI_API_KEY", 100};
  core_->OnMessage("w1", call);
  auto grants = Of<GrantMsg>(core_->TakeOutbox());
  ASSERT_EQ(grants.size(), 1u);
  EXPECT_FALSE(grants[0].cached);
  CallResultMsg cr;
  cr.call_key = "key1";
  cr.provider = "openai";
  cr.model = "gpt";
  cr.ok = true;
  cr.response_json = R"({"content":"hi"})";
  core_->OnMessage("w1", cr);
  core_->MaybeCommit(true);
  core_->TakeOutbox();
  core_->OnMessage("w1", call);
  grants = Of<GrantMsg>(core_->TakeOutbox());
  ASSERT_EQ(grants.size(), 1u);
  EXPECT_TRUE(grants[0].cached);
  EXPECT_EQ(grants[0].response_json, R"({"content":"hi"})");
}

TEST_F(CoreTest, FinishesWhenEveryJobIsTerminal) {
  Hello("w1");
  core_->OnMessage("w1", CreditMsg{kCells});
  auto jobs = Of<JobMsg>(Step());
  ASSERT_EQ(jobs.size(), static_cast<size_t>(kCells));
  EXPECT_FALSE(core_->Finished());
  for (const JobMsg& j : jobs) {
    core_->OnMessage("w1", ResultMsg{j.spec.job.value(), j.lease, 1, Verdict(true)});
  }
  EXPECT_FALSE(core_->Finished());  // ACKs held until commit
  core_->MaybeCommit(true);
  EXPECT_TRUE(core_->Finished());
  EXPECT_EQ(Of<AckMsg>(core_->TakeOutbox()).size(), static_cast<size_t>(kCells));
  // The report index the load left for later is built now that the sweep is done.
  auto report_index = [&] {
    Result<std::unique_ptr<ReportDb>> db = ReportDb::Open((dir_ / "db").string());
    if (!db.ok()) return std::string("?");
    Result<QueryTable> t = (*db)->Query(
        "SELECT count(*) FROM sqlite_schema WHERE type = 'index' AND name = 'jobs_report'");
    return t.ok() && !t->rows.empty() ? t->rows[0][0].value_or("?") : std::string("?");
  };
  EXPECT_EQ(report_index(), "0");
  Step();
  core_->MaybeCommit(true);
  EXPECT_EQ(report_index(), "1");
}

// Batch queues flush when nothing else can run. The run loop waits idle_fetch_ms between turns,
// so its Tick comes just as the idle re-read's window closes: the state must still say "nothing
// else runnable" then (it said so only inside the window, and batches waited seconds for a
// frame to land in it).
TEST_F(CoreTest, NothingElseRunnableHoldsAcrossTheLoopsIdleWait) {
  auto idle_turns = [&] {
    int idle = 0;
    for (int turn = 0; turn < 5; ++turn) {
      Step();
      clock_.Advance(Millis(opt_.idle_fetch_ms));  // the loop's wait when nothing happens
      idle += core_->NothingElseRunnable() ? 1 : 0;
    }
    return idle;
  };
  Hello("w1");
  core_->OnMessage("w1", CreditMsg{kCells});
  auto jobs = Of<JobMsg>(Step());
  ASSERT_EQ(jobs.size(), static_cast<size_t>(kCells));
  for (size_t i = 1; i < jobs.size(); ++i) {
    core_->OnMessage("w1", ResultMsg{jobs[i].spec.job.value(), jobs[i].lease, 1, Verdict(true)});
  }
  core_->MaybeCommit(true);
  EXPECT_EQ(idle_turns(), 0);  // a lease is out
  // Its worker is gone: the job is pending again, and no worker is there to read it.
  core_->OnDisconnected("w1");
  EXPECT_EQ(idle_turns(), 0);
  Hello("w2");
  core_->OnMessage("w2", CreditMsg{kCells});
  auto again = Of<JobMsg>(Step());
  ASSERT_EQ(again.size(), 1u);
  core_->OnMessage("w2", ResultMsg{again[0].spec.job.value(), again[0].lease, 2, Verdict(true)});
  core_->MaybeCommit(true);
  EXPECT_EQ(idle_turns(), 5);
}

// A reached budget: no more JOBs, the leased ones finish, then `run` may end; a new start with a
// raised budget clears the stop and dispatches again.
TEST_F(CoreTest, ReachedBudgetStopsDispatchAndLeasedJobsFinish) {
  opt_.exit_when_done = true;
  opt_.sweep_id = sweep_id_;
  opt_.budget.sweep_id = sweep_id_;
  opt_.budget.max_cost_usd = 1.0;
  NewCore();
  Hello("w1");
  core_->OnMessage("w1", CreditMsg{3});
  auto jobs = Of<JobMsg>(Step());
  ASSERT_EQ(jobs.size(), 3u);
  Outcome paid = Verdict(true);
  CallRecord call;
  call.call_key = "k";
  call.cost_usd = 0.6;
  paid.calls = {call};
  core_->OnMessage("w1", ResultMsg{jobs[0].spec.job.value(), jobs[0].lease, 1, paid});
  core_->OnMessage("w1", CreditMsg{1});
  auto more = Of<JobMsg>(Step());
  ASSERT_EQ(more.size(), 1u);  // 0.6 USD of 1: still under
  EXPECT_TRUE(core_->progress().stopped.empty());
  core_->OnMessage("w1", ResultMsg{jobs[1].spec.job.value(), jobs[1].lease, 1, paid});
  core_->OnMessage("w1", CreditMsg{5});
  EXPECT_TRUE(Of<JobMsg>(Step()).empty());
  EXPECT_NE(core_->progress().stopped.find("max_cost_usd 1 of the sweep reached (spent 1.2)"),
            std::string::npos)
      << core_->progress().stopped;
  EXPECT_FALSE(core_->Finished());  // two leased jobs still run
  core_->OnMessage("w1", ResultMsg{jobs[2].spec.job.value(), jobs[2].lease, 1, Verdict(true)});
  EXPECT_TRUE(Of<JobMsg>(Step()).empty());
  EXPECT_FALSE(core_->Finished());
  core_->OnMessage("w1", ResultMsg{more[0].spec.job.value(), more[0].lease, 1, Verdict(true)});
  core_->MaybeCommit(true);
  Step();
  core_->MaybeCommit(true);
  EXPECT_TRUE(core_->Finished());
  EXPECT_TRUE(core_->progress().budget_stopped);
  EXPECT_EQ(*store_->CountJobs(JobState::kPending, sweep_id_), kCells - 4);
  auto stop_reason = [&] {
    Result<std::unique_ptr<ReportDb>> db = ReportDb::Open((dir_ / "db").string());
    if (!db.ok()) return std::string("?");
    Result<QueryTable> t = (*db)->Query("SELECT stop_reason FROM sweeps");
    return t.ok() && !t->rows.empty() ? t->rows[0][0].value_or("?") : std::string("?");
  };
  EXPECT_NE(stop_reason().find("max_cost_usd"), std::string::npos);

  opt_.budget.max_cost_usd = 10.0;
  NewCore();
  EXPECT_TRUE(core_->progress().stopped.empty());
  EXPECT_EQ(stop_reason(), "");
  Hello("w2");
  core_->OnMessage("w2", CreditMsg{2});
  EXPECT_EQ(Of<JobMsg>(Step(), "w2").size(), 2u);
}

// Push dispatch: with the idle re-read of pending jobs set to an hour, every job the coordinator
// makes runnable itself still goes out in the same turn (no clock advance) or when its back-off
// ends (the clock advanced by exactly the back-off), never after a poll.
class PushTest : public CoreTest {
 protected:
  void SetUp() override {
    opt_.idle_fetch_ms = 3'600'000;
    CoreTest::SetUp();
  }
  // Leases all kCells jobs to w1 and lets w2 find nothing (which starts the idle delay).
  std::vector<JobMsg> AllToW1() {
    Hello("w1", {}, 8);
    core_->OnMessage("w1", CreditMsg{kCells});
    std::vector<JobMsg> held = Of<JobMsg>(Step(), "w1");
    Hello("w2", {}, 8);
    core_->OnMessage("w2", CreditMsg{4});
    EXPECT_TRUE(Of<JobMsg>(Step(), "w2").empty());
    return held;
  }
  static std::string SweepText(const std::string& name, int samples) {
    return "name = \"" + name + "\"\nseed = 7\nsamples = " + std::to_string(samples) +
           "\nmethods = [\"only_question\"]\n\n[[tasks]]\nname = \"number_multiply\"\n"
           "complexity = [\"1_2\"]\n\n[models.\"sim:fast\"]\np_code = 0.0\n";
  }
  SubmittedMsg Submit(const std::string& text, const std::string& path = "s.toml") {
    core_->OnMessage("client", SubmitMsg{path, text, 0});
    std::vector<Outgoing> out = core_->TakeOutbox();
    std::vector<SubmittedMsg> answers = Of<SubmittedMsg>(out, "client");
    EXPECT_EQ(answers.size(), 1u);
    outbox_rest_ = std::move(out);
    return answers.empty() ? SubmittedMsg{"no answer"} : answers[0];
  }
  std::vector<Outgoing> outbox_rest_;
};

TEST_F(PushTest, DisconnectedWorkersJobsGoOutInTheSameTurn) {
  ASSERT_EQ(AllToW1().size(), static_cast<size_t>(kCells));
  core_->OnDisconnected("w1");
  EXPECT_EQ(Of<JobMsg>(Step(), "w2").size(), 4u);
}

TEST_F(PushTest, RetryBackOffEndsAndTheJobGoesOutThen) {
  std::vector<JobMsg> held = AllToW1();
  ASSERT_FALSE(held.empty());
  Outcome failed;
  failed.failed = true;
  failed.retryable = true;
  failed.error = "transient";
  core_->OnMessage("w1", ResultMsg{held[0].spec.job.value(), held[0].lease, 1, failed});
  core_->MaybeCommit(true);
  EXPECT_TRUE(Of<JobMsg>(Step(), "w2").empty());  // its back-off (1 s) has not ended
  EXPECT_LE(core_->NextWakeMs(), opt_.requeue_backoff_ms);
  clock_.Advance(Millis(opt_.requeue_backoff_ms));
  std::vector<JobMsg> again = Of<JobMsg>(Step(), "w2");
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].spec.job, held[0].spec.job);
  EXPECT_EQ(again[0].attempt, 2);
}

TEST_F(PushTest, SilentWorkersJobsGoOutWhenTheirBackOffEnds) {
  ASSERT_EQ(AllToW1().size(), static_cast<size_t>(kCells));
  const int64_t silent_ms = static_cast<int64_t>(opt_.hb_ms) * opt_.liveness;
  for (int64_t t = 0; t <= silent_ms; t += opt_.hb_ms / 2) {  // w2 stays alive, w1 says nothing
    clock_.Advance(Millis(opt_.hb_ms / 2));
    core_->OnMessage("w2", HeartbeatMsg{});
    EXPECT_TRUE(Of<JobMsg>(Step(), "w2").empty());  // w1 lost: its jobs wait out the back-off
  }
  EXPECT_EQ(core_->progress().workers, 1);
  EXPECT_LE(core_->NextWakeMs(), opt_.requeue_backoff_ms);
  clock_.Advance(Millis(opt_.requeue_backoff_ms));
  core_->OnMessage("w2", HeartbeatMsg{});
  EXPECT_EQ(Of<JobMsg>(Step(), "w2").size(), 4u);
}

TEST_F(PushTest, SubmittedSweepAndItsExtensionAreDispatchedAtOnce) {
  Result<std::unique_ptr<TaskRegistry>> tasks = TaskRegistry::Create(DefaultDataDir());
  ASSERT_TRUE(tasks.ok()) << tasks.status().ToString();
  core_->SetTasks(tasks->get());
  AllToW1();
  const int64_t total = core_->progress().total;
  SubmittedMsg first = Submit(SweepText("pushed", 2));
  ASSERT_EQ(first.error, "");
  EXPECT_EQ(first.inserted, 2);
  EXPECT_EQ(core_->progress().total, total + 2);
  std::vector<JobMsg> jobs = Of<JobMsg>(Step(), "w2");
  ASSERT_EQ(jobs.size(), 2u);
  EXPECT_EQ(jobs[0].spec.sweep, "pushed");
  // The same sweep with more samples: only the new cells are added, and they go out at once.
  SubmittedMsg more = Submit(SweepText("pushed", 4));
  ASSERT_EQ(more.error, "");
  EXPECT_EQ(more.sweep_id, first.sweep_id);
  EXPECT_EQ(more.total, 4);
  EXPECT_EQ(more.inserted, 2);
  EXPECT_EQ(Of<JobMsg>(Step(), "w2").size(), 2u);
  EXPECT_EQ(core_->progress().total, total + 4);
}

TEST_F(PushTest, BadSubmitIsRefusedNamingWhereAndChangesNothing) {
  Result<std::unique_ptr<TaskRegistry>> tasks = TaskRegistry::Create(DefaultDataDir());
  ASSERT_TRUE(tasks.ok()) << tasks.status().ToString();
  core_->SetTasks(tasks->get());
  SubmittedMsg bad = Submit("name = \"x\"\nsamples = \"many\"\n", "bad.toml");
  EXPECT_NE(bad.error.find("bad.toml"), std::string::npos) << bad.error;
  SubmittedMsg garbage = Submit(std::string("\xff\xfe[[[", 5), "garbage.toml");
  EXPECT_NE(garbage.error.find("garbage.toml"), std::string::npos) << garbage.error;
  Result<JobCounts> counts = store_->CountJobStates(0, "");
  ASSERT_TRUE(counts.ok());
  EXPECT_EQ(counts->total, kCells);
  EXPECT_TRUE(core_->fatal().ok());
}

TEST_F(PushTest, SubmitWithoutTaskRegistryIsRefused) {
  SubmittedMsg r = Submit(SweepText("pushed", 1));
  EXPECT_NE(r.error.find("no submits"), std::string::npos) << r.error;
}

TEST_F(PushTest, WakeRereadsCountsAndPendingJobs) {
  AllToW1();
  core_->OnMessage("client", WakeMsg{});
  std::vector<Outgoing> out = core_->TakeOutbox();
  ASSERT_EQ(Of<SubmittedMsg>(out, "client").size(), 1u);
  EXPECT_EQ(Of<SubmittedMsg>(out, "client")[0].error, "");
  EXPECT_EQ(core_->progress().total, kCells);
}

}  // namespace
}  // namespace codesweep
