// CoordinatorCore: the coordinator's decisions without any I/O. It turns frames from workers and
// the passage of time into Store writes and outgoing messages (an outbox the loop sends). It owns
// the dispatch page buffer, per-worker credit and lease maps, the ACKs held until commit, the
// progress counters, and the CallBroker that answers CALLs (it forwards the broker's GRANTs).
// Single-threaded: used only by the coordinator loop (or a unit test with a FakeClock and a
// temporary Store).
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <queue>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/clock.h"
#include "base/log.h"
#include "coordinator/batch_manager.h"
#include "coordinator/circuit_breaker.h"
#include "coordinator/ratelimit/call_broker.h"
#include "coordinator/ratelimit/cluster_limiter.h"
#include "coordinator/ratelimit/dispatch_lanes.h"
#include "coordinator/ratelimit/rate_limiter.h"
#include "coordinator/store/store.h"
#include "schema/messages.h"

namespace codesweep {

class TaskRegistry;
class DeclaredCatalog;

// The budgets of one sweep (from its sweep file, docs/operations.md). Once one is reached no
// more of the budgeted cells start; leased ones finish. Spend is what the sweep's recorded calls
// cost (calls answered from the cache are free), read at Start and added up per accepted result.
struct BudgetOptions {
  int64_t sweep_id = 0;                              // the sweep they apply to; 0 = none
  std::optional<double> max_cost_usd;                // the whole sweep, USD
  std::optional<int64_t> max_tokens_total;           // the whole sweep, tokens in + out
  std::map<std::string, double> model_max_cost_usd;  // model id -> USD
  bool any() const {
    return sweep_id != 0 && (max_cost_usd || max_tokens_total || !model_max_cost_usd.empty());
  }
};

struct CoordinatorOptions {
  int hb_ms = 1000;                    // heartbeat interval sent in WELCOME
  int liveness = 3;                    // heartbeats missed before a worker is lost
  int64_t lease_ms = 60'000;           // lease length; renewed by heartbeats
  int64_t restart_grace_ms = 10'000;   // on start, leased jobs wait this long for their workers
  int64_t requeue_backoff_ms = 1'000;  // not_before delay after a lost lease or transient error
  int commit_interval_ms = 10;         // group commit: at most this long between commits
  int commit_max_ops = 4'000;          // ... or after this many results
  int fetch_page = 2'048;              // pending jobs read per page (bounds memory)
  int64_t sweep_id = 0;                // 0: serve every sweep in the database
  bool exit_when_done = false;         // `run`: stop once every job of the sweep is terminal
  // An extra SQL condition over the jobs table (`run --task/--model/--method/--limit`): only
  // these jobs are dispatched and counted. "" = all.
  std::string job_scope_sql;
  bool use_cache = true;  // false (--no-cache): no call is answered from the cache
  // Pending jobs are re-read at most this often while none is found. Every job the coordinator
  // makes runnable itself (SUBMIT, a requeue, a retry back-off running out, WAKE) is dispatched
  // at once without it; it only bounds how late a write by another process to the store (e.g.
  // `codesweep retry` without --connect) is noticed.
  int64_t idle_fetch_ms = 100;
  int64_t max_cells = 10'000'000;      // a SUBMIT of a larger grid is refused (--max-cells)
  int64_t limits_snapshot_ms = 1'000;  // how often live limiter state goes to rate_limits
  int64_t expiry_check_ms = 500;       // how often expired leases are looked for
  // A worker holding leases with no accepted result, CALL or CALL_RESULT for this long (and no
  // call waiting at the coordinator) is stalled: its leases are requeued (no attempt spent) and
  // it may hold one job until it returns a result. 0 = never.
  int64_t stall_ms = 600'000;
  RateLimiterOptions rate;    // for the ClusterRateLimiter the Coordinator builds
  BudgetOptions budget;       // a reached budget stops dispatch of its sweep's cells
  BatchManagerOptions batch;  // batch mode: API keys and prices for provider batches
  // The declared tasks of the loaded sweep (coordinator/sweep/declared_tasks.h): their jobs
  // carry the task's definition and their row, read at dispatch. Null: no declared tasks.
  std::shared_ptr<const DeclaredCatalog> declared;
  Status Validate() const;  // InvalidArgument naming the first bad field
};

struct Progress {
  int64_t total = 0;           // jobs in scope
  int64_t terminal = 0;        // done + failed + dead
  int64_t failures = 0;        // failed + dead
  int64_t correct = 0;         // correct verdicts seen by this coordinator
  int64_t completed_here = 0;  // results accepted since start
  int64_t leased = 0;          // leases known to be out
  int64_t parked = 0;          // cells waiting for provider batches (batch mode)
  int workers = 0;
  double rate_per_s = 0;        // results/s over the last window
  double eta_s = -1;            // -1 when unknown
  std::string stopped;          // which budget stops new cells from starting; "" while none does
  bool budget_stopped = false;  // that budget ended a `run` with cells left (Finished())
};

class CoordinatorCore {
 public:
  CoordinatorCore(Store& store, const Clock& clock, Logger& log, RateLimiter& limiter,
                  CoordinatorOptions options);

  // Restart recovery (grace for leased jobs) and the initial counts. Call once.
  Status Start();
  // One received frame; bad frames are logged once per peer and dropped.
  void OnFrame(const std::string& peer, std::string_view frame);
  void OnMessage(const std::string& peer, Message msg);
  // The peer's connection closed (its process died, or the network cut it): it is lost at once
  // and its leases are requeued without back-off, fenced as for any lost worker. A live worker
  // reconnects, gets RESET and says HELLO again.
  void OnDisconnected(const std::string& peer);
  // Liveness, expired leases, heartbeats to idle workers, waiting CALLs.
  void Tick();
  // Leases pending jobs to workers with credit.
  void Dispatch();
  // SUBMIT needs the task registry to parse a sweep file; without one SUBMIT is refused.
  void SetTasks(const TaskRegistry* tasks) { tasks_ = tasks; }
  // Commits when due (or when `force`), then releases the ACKs it held.
  void MaybeCommit(bool force);
  std::vector<Outgoing> TakeOutbox();
  // The loop is ending: the workers still connected are recorded as gone (the workers table
  // then no longer shows them "up" after the run). Their leases stay in the store; the next
  // start gives them the restart grace. Commit afterwards.
  void Shutdown();

  // Milliseconds until the next timer needs the loop (commit, liveness, leases).
  int64_t NextWakeMs() const;
  // Every job in scope is terminal, or a budget stopped the rest and none is leased any more;
  // nothing is held.
  bool Finished() const;
  // No lease is out, no job is buffered or deferred, and the pending jobs were read to the end
  // with none found: nothing but a batch flush can make progress (batch queues then flush).
  bool NothingElseRunnable() const;
  Progress progress() const;
  // A store failure makes the coordinator stop; this is it (OK while healthy).
  const Status& fatal() const { return fatal_; }
  int64_t epoch() const { return epoch_; }

 private:
  struct LeaseInfo {
    int64_t lease = 0;
    int64_t until_ms = 0;
    int64_t variant = 0;  // 0 where unknown (a lease reclaimed after a restart)
  };
  struct Peer {
    std::string id;
    int credit = 0;  // as the worker announced it (its own accounting); see `window`
    int slots = 0;
    // Most jobs it may hold at once: slots + prefetch (prefetch <= slots) while it returns
    // results; 1 after a stall, growing by one per accepted result.
    int window = 0;
    std::map<int64_t, LeaseInfo> leases;  // job -> lease
    SteadyTime last_seen{};
    SteadyTime last_sent{};
    // Last accepted result, CALL or CALL_RESULT, or when it began holding leases.
    SteadyTime last_progress{};
  };

  // Once every job in scope is terminal: the report-only indexes a grid load left for later.
  void MaybeBuildReportIndexes();
  void OnHello(const std::string& peer, const HelloMsg& m);
  // SUBMIT: expand the sweep into the store (committed) and answer SUBMITTED; its new cells go
  // out in the Dispatch of this turn.
  void OnSubmit(const std::string& peer, const SubmitMsg& m);
  Result<SubmittedMsg> Submit(const SubmitMsg& m);
  // WAKE: the store changed behind the coordinator; re-read the counts and the pending jobs.
  void OnWake(const std::string& peer);
  // Pending jobs may have changed behind the buffer: read them again from the first.
  void Reread();
  // A job requeued with a back-off becomes runnable at `wall_ms`: wake then (see runnable_at_).
  void RunnableAt(int64_t wall_ms);
  void OnResult(const std::string& peer, const ResultMsg& m);
  void OnHeartbeat(Peer& p, const HeartbeatMsg& m);
  // A batch-mode CALL (batch mode, docs/batch.md): answered by the BatchManager.
  void OnBatchCall(const std::string& peer, const CallMsg& m);
  // Flushes and polls provider batches; cells it unparks are read again from the start.
  void TickBatches();
  // Takes the broker's GRANTs and store writes after one of its calls returned `s`.
  void FromBroker(const Status& s);
  void ClaimLease(Peer& p, const LeaseRef& ref, bool cancel_if_stale);
  void AddLease(Peer& p, int64_t job, LeaseInfo info);
  static bool HasRoom(const Peer& p);  // credit left and fewer leases than its window
  void ThrottleStalled(SteadyTime now);
  void Throttle(Peer& p);
  void LosePeer(const std::string& id, const std::string& reason, int64_t backoff_ms);
  void Requeue(int64_t job, int64_t lease, const std::string& reason, int64_t not_before_ms);
  void ExpireLeases();
  // Writes every connected worker's last message time to the workers table (status reads it).
  void RecordWorkersSeen(SteadyTime now);
  void DropLease(int64_t job);
  bool Refill();
  bool LeaseOne(Peer& p, const JobRow& row);
  // Feeds an accepted result to the circuit breaker (logs when one trips).
  void NoteForBreaker(int64_t variant, const Outcome& outcome);
  // Fails a pending cell whose (model, error) breaker tripped, without sending it.
  void FailFast(const JobRow& row, const std::string& error);
  Result<const VariantRecord*> Variant(int64_t id);
  Result<const std::string*> MethodDefinition(int64_t id);  // definition_json, cached
  Result<const SweepRecord*> Sweep(int64_t id);
  void CountTerminal(int64_t job, bool correct);
  // Budgets: spend from the store, spend of one accepted result, the blocks they imply.
  Status LoadSpend();
  void AddSpend(int64_t job, const Outcome& outcome);
  void CheckBudgets();
  bool Blocked(const JobRow& row);  // a reached budget keeps this cell from starting
  void CheckBudgetStop();           // `run`: no cell may start and none is leased: stop
  void Send(const std::string& peer, Message msg);
  void SendReset(const std::string& peer);
  void BadFrame(const std::string& peer, const std::string& why);
  void Fail(const Status& s);
  int64_t NowMs() const { return clock_.WallMs(); }

  Store& store_;
  const TaskRegistry* tasks_ = nullptr;
  const Clock& clock_;
  Logger& log_;
  CoordinatorOptions opt_;
  CallBroker broker_;
  DispatchLanes lanes_;  // which pending job a free slot gets when buckets compete
  BatchManager batch_;
  SteadyTime batch_ticked_{};
  CircuitBreaker breaker_;
  Status fatal_;
  int64_t epoch_ = 0;
  bool report_indexes_checked_ = false;  // BuildReportIndexes ran once the sweep was finished

  std::map<std::string, Peer> peers_;
  std::unordered_map<int64_t, std::string> lease_owner_;  // job -> peer holding it
  std::deque<JobRow> buffer_;
  JobId cursor_{0};
  SteadyTime fetch_idle_until_{};
  // The last read of pending jobs found none, and nothing has made a job runnable since (a park,
  // a re-read). Unlike fetch_idle_until_ it does not run out: the loop's wait is idle_fetch_ms,
  // so a Tick comes just as that window closes and would never see it open.
  bool store_drained_ = false;
  // When requeued jobs' back-offs run out (wall ms, earliest first): each is a re-read of the
  // pending jobs at that moment, so they are dispatched then without waiting for the idle
  // re-read. One entry per requeue with a back-off; popped when due.
  std::priority_queue<int64_t, std::vector<int64_t>, std::greater<>> runnable_at_;
  std::unordered_map<int64_t, VariantRecord> variants_;
  std::unordered_map<int64_t, std::string> method_templates_;  // id -> definition_json
  std::unordered_map<int64_t, SweepRecord> sweeps_;  // config_json is empty after a SUBMIT
  std::deque<Outgoing> held_acks_;
  SteadyTime limits_snapshot_{};
  std::vector<Outgoing> outbox_;
  std::set<std::string> bad_logged_;
  std::map<std::string, SteadyTime> reset_sent_;
  SteadyTime last_commit_{};
  SteadyTime last_expiry_check_{};
  SteadyTime workers_seen_written_{};
  int ops_since_commit_ = 0;

  std::map<std::string, ModelSpend> spend_;  // model id -> spend of the budgeted sweep
  bool sweep_blocked_ = false;               // a budget of the whole sweep is reached
  std::set<std::string> blocked_models_;     // models whose own budget is reached
  std::string stop_reason_;                  // what Progress::stopped and sweeps.stop_reason say
  bool budget_stopped_ = false;              // see CheckBudgetStop

  Progress progress_;
  mutable std::deque<std::pair<SteadyTime, int64_t>> rate_window_;  // (time, completed_here)
};

}  // namespace codesweep
