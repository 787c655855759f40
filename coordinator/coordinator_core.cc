// CoordinatorCore: dispatch, leases, fenced results with ACK-after-commit, liveness; CALL/GRANT
// goes to the CallBroker.
#include "coordinator/coordinator_core.h"

#include <algorithm>

#include "base/trace.h"
#include "coordinator/sweep/declared_tasks.h"
#include "coordinator/sweep/grid.h"
#include "coordinator/sweep/sweep_file.h"
#include "schema/codec.h"

namespace codesweep {
namespace {

// How often the workers' last-seen times are written (`codesweep status` shows them, and counts
// a lease as held only while its worker was seen within kLiveWorkerMs of the store's read side).
constexpr int64_t kWorkerSeenWriteMs = 2'000;
constexpr int64_t kBatchStopGraceMs = 2'000;  // provider requests in flight at a stop
constexpr int kMaxCredit = 1'000'000;
// A HELLO announcing more slots is held to this (a worker holds 10,000 calls in flight).
constexpr int kMaxSlots = 16'384;
constexpr size_t kMaxLoggedPeers = 10'000;

// What a worker announcing `slots` may hold at once: its slots plus at most as much prefetch.
// The worker name of the attempts the circuit breaker fails without sending them.
constexpr const char* kBreakerWorker = "(circuit breaker)";

int MaxWindow(int slots) { return 2 * std::clamp(slots, 1, kMaxSlots); }

int64_t MsBetween(SteadyTime a, SteadyTime b) {
  return std::chrono::duration_cast<Millis>(b - a).count();
}

}  // namespace

Status CoordinatorOptions::Validate() const {
  auto positive = [](int64_t v, const char* what) {
    return v > 0 ? Status::OK() : Status::InvalidArgument(Str(what, " must be > 0, got ", v));
  };
  CS_RETURN_IF_ERROR(positive(hb_ms, "hb_ms (--hb-ms)"));
  CS_RETURN_IF_ERROR(positive(liveness, "liveness (--liveness)"));
  CS_RETURN_IF_ERROR(positive(lease_ms, "lease_ms (--lease-ms)"));
  CS_RETURN_IF_ERROR(positive(commit_interval_ms, "commit_interval_ms"));
  CS_RETURN_IF_ERROR(positive(commit_max_ops, "commit_max_ops"));
  CS_RETURN_IF_ERROR(positive(fetch_page, "fetch_page"));
  CS_RETURN_IF_ERROR(positive(idle_fetch_ms, "idle_fetch_ms"));
  CS_RETURN_IF_ERROR(positive(max_cells, "max_cells (--max-cells)"));
  CS_RETURN_IF_ERROR(positive(limits_snapshot_ms, "limits_snapshot_ms"));
  CS_RETURN_IF_ERROR(positive(expiry_check_ms, "expiry_check_ms"));
  CS_RETURN_IF_ERROR(positive(rate.burst_ms, "rate.burst_ms (--rate-burst-s)"));
  if (restart_grace_ms < 0 || requeue_backoff_ms < 0 || sweep_id < 0 || stall_ms < 0) {
    return Status::InvalidArgument(
        "grace (--grace-ms), requeue back-off, stall time (--stall-ms) and sweep id are >= 0");
  }
  return Status::OK();
}

CoordinatorCore::CoordinatorCore(Store& store, const Clock& clock, Logger& log,
                                 RateLimiter& limiter, CoordinatorOptions options)
    : store_(store),
      clock_(clock),
      log_(log),
      opt_(options),
      broker_(store, clock, limiter, options.use_cache),
      lanes_(broker_, clock, opt_.fetch_page,
             [this] { return store_.UnfinishedByVariant(opt_.sweep_id); }),
      batch_(store, clock, log, options.batch) {}

Status CoordinatorCore::Start() {
  epoch_ = NowMs();
  last_commit_ = last_expiry_check_ = clock_.Now();
  CS_ASSIGN_OR_RETURN(std::vector<JobRow> leased, store_.LeasedJobs());
  if (!leased.empty()) {
    CS_RETURN_IF_ERROR(store_.ExtendAllLeases(NowMs() + opt_.restart_grace_ms));
    log_.Info(Str("restart: ", leased.size(), " leased jobs wait ", opt_.restart_grace_ms,
                  " ms for their workers"));
  }
  CS_RETURN_IF_ERROR(store_.Commit());
  CS_RETURN_IF_ERROR(broker_.LoadLimits(true));
  CS_RETURN_IF_ERROR(batch_.Start());
  CS_RETURN_IF_ERROR(store_.Commit());
  CS_ASSIGN_OR_RETURN(JobCounts counts, store_.CountJobStates(opt_.sweep_id, opt_.job_scope_sql));
  progress_.parked = counts.parked;
  progress_.total = counts.total;
  progress_.terminal = counts.done + counts.failed + counts.dead;
  progress_.failures = counts.failed + counts.dead;
  if (opt_.budget.sweep_id != 0) {
    CS_RETURN_IF_ERROR(LoadSpend());
    CheckBudgets();
    // A budget raised (or removed) since the last run no longer stops the sweep.
    CS_RETURN_IF_ERROR(store_.SetStopReason(opt_.budget.sweep_id, stop_reason_));
    CS_RETURN_IF_ERROR(store_.Commit());
  }
  return Status::OK();
}

Status CoordinatorCore::LoadSpend() {
  if (!opt_.budget.any()) return Status::OK();
  CS_ASSIGN_OR_RETURN(std::vector<ModelSpend> spend, store_.SpendByModel(opt_.budget.sweep_id));
  for (const ModelSpend& m : spend) spend_[m.model] = m;
  return Status::OK();
}

void CoordinatorCore::AddSpend(int64_t job, const Outcome& outcome) {
  if (!opt_.budget.any() || outcome.calls.empty()) return;
  Result<JobRow> row = store_.GetJob(JobId(job));
  if (!row.ok()) return Fail(row.status());
  if (row->sweep_id != opt_.budget.sweep_id) return;
  Result<const VariantRecord*> variant = Variant(row->variant_id);
  if (!variant.ok()) return Fail(variant.status());
  ModelSpend& s = spend_[(*variant)->model.id];
  for (const CallRecord& c : outcome.calls) {
    if (c.cached) continue;
    s.cost_usd += c.cost_usd;
    s.tokens += c.tokens_in + c.tokens_out;
  }
  CheckBudgets();
}

void CoordinatorCore::CheckBudgets() {
  const BudgetOptions& b = opt_.budget;
  if (!b.any()) return;
  double cost = 0;
  int64_t tokens = 0;
  for (const auto& [model, s] : spend_) {
    cost += s.cost_usd;
    tokens += s.tokens;
  }
  std::vector<std::string> why;
  bool sweep_blocked = false;
  if (b.max_cost_usd && cost >= *b.max_cost_usd) {
    sweep_blocked = true;
    why.push_back(
        Str("max_cost_usd ", *b.max_cost_usd, " of the sweep reached (spent ", cost, ")"));
  }
  if (b.max_tokens_total && tokens >= *b.max_tokens_total) {
    sweep_blocked = true;
    why.push_back(Str("max_tokens_total ", *b.max_tokens_total, " reached (used ", tokens, ")"));
  }
  std::set<std::string> blocked;
  for (const auto& [model, limit] : b.model_max_cost_usd) {
    auto it = spend_.find(model);
    double spent = it == spend_.end() ? 0 : it->second.cost_usd;
    if (spent < limit) continue;
    blocked.insert(model);
    why.push_back(Str("max_cost_usd ", limit, " of model ", model, " reached (spent ", spent, ")"));
  }
  std::string reason;
  for (const std::string& w : why) reason += (reason.empty() ? "budget: " : "; ") + w;
  if (sweep_blocked != sweep_blocked_ || blocked != blocked_models_) {
    log_.Warn(reason.empty() ? std::string("budget: cells may start again")
                             : reason + "; no more cells start, running ones finish");
  }
  sweep_blocked_ = sweep_blocked;
  blocked_models_ = std::move(blocked);
  if (reason == stop_reason_) return;
  stop_reason_ = std::move(reason);
  Fail(store_.SetStopReason(b.sweep_id, stop_reason_));
  ++ops_since_commit_;
}

bool CoordinatorCore::Blocked(const JobRow& row) {
  if (row.sweep_id != opt_.budget.sweep_id || !opt_.budget.any()) return false;
  if (sweep_blocked_) return true;
  if (blocked_models_.empty()) return false;
  Result<const VariantRecord*> variant = Variant(row.variant_id);
  return variant.ok() && blocked_models_.count((*variant)->model.id) > 0;
}

void CoordinatorCore::CheckBudgetStop() {
  if (!opt_.exit_when_done || budget_stopped_ || stop_reason_.empty() || !lease_owner_.empty()) {
    return;
  }
  if (!sweep_blocked_) {
    Result<std::vector<std::pair<std::string, int64_t>>> left =
        store_.UnfinishedByModel(opt_.budget.sweep_id);
    if (!left.ok()) return Fail(left.status());
    for (const auto& [model, n] : *left) {
      if (n > 0 && !blocked_models_.count(model)) return;  // cells that may still start
    }
  }
  budget_stopped_ = true;
  log_.Info(Str("stopping: ", stop_reason_));
}

void CoordinatorCore::Fail(const Status& s) {
  if (fatal_.ok() && !s.ok()) {
    fatal_ = s;
    log_.Error(Str("coordinator stopping: ", s.ToString()));
  }
}

void CoordinatorCore::FromBroker(const Status& s) {
  Fail(s);
  for (Outgoing& o : broker_.TakeOutbox()) Send(o.peer, std::move(o.msg));
  ops_since_commit_ += broker_.TakeWrites();
}

void CoordinatorCore::Send(const std::string& peer, Message msg) {
  auto it = peers_.find(peer);
  if (it != peers_.end()) it->second.last_sent = clock_.Now();
  outbox_.push_back({peer, std::move(msg)});
}

void CoordinatorCore::SendReset(const std::string& peer) {
  SteadyTime now = clock_.Now();
  auto it = reset_sent_.find(peer);
  if (it != reset_sent_.end() && MsBetween(it->second, now) < opt_.hb_ms) return;
  if (reset_sent_.size() >= kMaxLoggedPeers) reset_sent_.clear();
  reset_sent_[peer] = now;
  outbox_.push_back({peer, ResetMsg{}});
}

void CoordinatorCore::BadFrame(const std::string& peer, const std::string& why) {
  if (bad_logged_.size() >= kMaxLoggedPeers || !bad_logged_.insert(peer).second) return;
  log_.Warn(Str("bad frame from peer (logged once per peer): ", why));
}

void CoordinatorCore::OnFrame(const std::string& peer, std::string_view frame) {
  Result<Message> msg = Decode(frame);
  if (!msg.ok()) return BadFrame(peer, msg.status().ToString());
  OnMessage(peer, std::move(*msg));
}

void CoordinatorCore::OnMessage(const std::string& peer, Message msg) {
  if (auto* hello = std::get_if<HelloMsg>(&msg)) return OnHello(peer, *hello);
  // Clients, not workers: CURVE/ZAP let them in like a worker (an authorized key).
  if (auto* submit = std::get_if<SubmitMsg>(&msg)) return OnSubmit(peer, *submit);
  if (std::holds_alternative<WakeMsg>(msg)) return OnWake(peer);
  // Results are fenced by their lease, so they are safe to accept from anyone.
  if (auto* result = std::get_if<ResultMsg>(&msg)) OnResult(peer, *result);
  auto it = peers_.find(peer);
  if (it == peers_.end()) {
    if (!std::holds_alternative<ByeMsg>(msg)) SendReset(peer);
    return;
  }
  Peer& p = it->second;
  p.last_seen = clock_.Now();
  if (auto* credit = std::get_if<CreditMsg>(&msg)) {
    p.credit = std::clamp(p.credit + std::max(credit->n, 0), 0, kMaxCredit);
  } else if (auto* hb = std::get_if<HeartbeatMsg>(&msg)) {
    OnHeartbeat(p, *hb);
  } else if (auto* call = std::get_if<CallMsg>(&msg)) {
    if (call->call_key.empty()) return BadFrame(peer, "CALL without a call key");
    p.last_progress = p.last_seen;  // LLM work on its jobs: not stalled
    // A batch CALL waits at no rate bucket: it takes no part in the dispatch lanes.
    if (!call->batch_body.empty()) return OnBatchCall(peer, *call);
    auto lease = p.leases.find(call->job);
    lanes_.OnCall(call->job, lease == p.leases.end() ? 0 : lease->second.variant,
                  BucketKey::Of(*call));
    FromBroker(broker_.OnCall(peer, *call));
  } else if (auto* cr = std::get_if<CallResultMsg>(&msg)) {
    p.last_progress = p.last_seen;
    FromBroker(broker_.OnCallResult(*cr));
  } else if (std::holds_alternative<ByeMsg>(msg)) {
    LosePeer(peer, "said bye", 0);
  } else if (!std::holds_alternative<ResultMsg>(msg)) {
    BadFrame(peer, Str("unexpected ", MessageName(msg), " from a worker"));
  }
}

void CoordinatorCore::OnBatchCall(const std::string& peer, const CallMsg& m) {
  Result<GrantMsg> grant = batch_.OnCall(m);
  if (!grant.ok()) return Fail(grant.status());
  ++ops_since_commit_;
  Send(peer, std::move(*grant));
}

bool CoordinatorCore::NothingElseRunnable() const {
  return lease_owner_.empty() && buffer_.empty() && lanes_.deferred() == 0 && store_drained_;
}

void CoordinatorCore::TickBatches() {
  SteadyTime now = clock_.Now();
  if (MsBetween(batch_ticked_, now) < 20) return;
  batch_ticked_ = now;
  Result<int64_t> unparked = batch_.Tick(NothingElseRunnable());
  if (!unparked.ok()) return Fail(unparked.status());
  // Cells whose batch the user cancelled (`codesweep batches cancel`) ended failed.
  if (const int64_t failed = batch_.TakeCancelledCells(); failed > 0) {
    progress_.parked = std::max<int64_t>(0, progress_.parked - failed);
    progress_.terminal += failed;
    progress_.failures += failed;
  }
  if (*unparked > 0) {  // read again from the start: the unparked cells sit behind the cursor
    progress_.parked = std::max<int64_t>(0, progress_.parked - *unparked);
    Reread();
  }
}

void CoordinatorCore::OnDisconnected(const std::string& peer) { LosePeer(peer, "disconnected", 0); }

void CoordinatorCore::OnHello(const std::string& peer, const HelloMsg& m) {
  auto old = peers_.find(peer);
  std::map<int64_t, LeaseInfo> previous;
  if (old != peers_.end()) previous = std::move(old->second.leases);
  // A reconnect keeps a throttled window: saying HELLO again does not reset it.
  const int window = old != peers_.end() ? old->second.window : MaxWindow(m.slots);
  Peer& p = peers_[peer];
  p = Peer{};
  p.id = peer;
  p.slots = m.slots;
  p.window = std::min(window, MaxWindow(m.slots));
  p.last_seen = clock_.Now();
  reset_sent_.erase(peer);
  for (const auto& [job, info] : previous) lease_owner_.erase(job);
  log_.Info(Str("worker up worker=", peer, " host=", m.host, " pid=", m.pid, " slots=", m.slots,
                " inflight=", m.inflight.size(), " unacked=", m.unacked.size()));
  WorkerRecord rec{peer, m.host, m.pid, m.slots, "[]", NowMs(), "up"};
  Fail(store_.UpsertWorker(rec));
  std::set<int64_t> claimed;
  for (const LeaseRef& ref : m.inflight) {
    ClaimLease(p, ref, true);
    claimed.insert(ref.job);
  }
  for (const LeaseRef& ref : m.unacked) {
    ClaimLease(p, ref, false);
    claimed.insert(ref.job);
  }
  // Leases the worker held before but no longer mentions were lost with it.
  for (const auto& [job, info] : previous) {
    if (!claimed.count(job)) Requeue(job, info.lease, "lost on reconnect", NowMs());
  }
  Send(peer, WelcomeMsg{epoch_, opt_.hb_ms, opt_.liveness, opt_.lease_ms});
}

void CoordinatorCore::ClaimLease(Peer& p, const LeaseRef& ref, bool cancel_if_stale) {
  int64_t until = NowMs() + opt_.lease_ms;
  Result<CompleteResult> r = store_.RenewLease(JobId(ref.job), LeaseToken(ref.lease), until);
  if (!r.ok()) return Fail(r.status());
  if (*r == CompleteResult::kStale) {
    if (cancel_if_stale) Send(p.id, CancelMsg{ref.job, ref.lease});
    return;
  }
  auto owner = lease_owner_.find(ref.job);
  if (owner != lease_owner_.end() && owner->second != p.id) {
    auto other = peers_.find(owner->second);
    if (other != peers_.end()) other->second.leases.erase(ref.job);
  }
  AddLease(p, ref.job, LeaseInfo{ref.lease, until});
  ++ops_since_commit_;
}

void CoordinatorCore::AddLease(Peer& p, int64_t job, LeaseInfo info) {
  if (p.leases.empty()) p.last_progress = clock_.Now();  // the stall clock starts now
  p.leases[job] = info;
  lease_owner_[job] = p.id;
}

void CoordinatorCore::OnHeartbeat(Peer& p, const HeartbeatMsg& m) {
  int64_t now = NowMs();
  for (const LeaseRef& ref : m.inflight) {
    auto it = p.leases.find(ref.job);
    if (it != p.leases.end() && it->second.lease == ref.lease &&
        it->second.until_ms - now > opt_.lease_ms / 2) {
      continue;  // still comfortably leased
    }
    ClaimLease(p, ref, true);
  }
}

void CoordinatorCore::DropLease(int64_t job) {
  lanes_.OnLeaseEnded(job);
  auto owner = lease_owner_.find(job);
  if (owner == lease_owner_.end()) return;
  auto p = peers_.find(owner->second);
  if (p != peers_.end()) p->second.leases.erase(job);
  lease_owner_.erase(owner);
}

void CoordinatorCore::OnResult(const std::string& peer, const ResultMsg& m) {
  int64_t now = NowMs();
  Result<CompleteResult> r = store_.CompleteJob(JobId(m.job), LeaseToken(m.lease), m.outcome, now,
                                                now + opt_.requeue_backoff_ms);
  if (!r.ok()) return Fail(r.status());
  int64_t variant = 0;
  if (auto owner = lease_owner_.find(m.job); owner != lease_owner_.end()) {
    if (auto p = peers_.find(owner->second); p != peers_.end()) {
      if (auto l = p->second.leases.find(m.job); l != p->second.leases.end()) {
        variant = l->second.variant;
      }
    }
  }
  DropLease(m.job);
  if (*r == CompleteResult::kAccepted && m.outcome.parked) {  // batch mode: not a result yet
    ++ops_since_commit_;
    ++progress_.parked;
    if (auto it = peers_.find(peer); it != peers_.end()) it->second.last_progress = clock_.Now();
    fetch_idle_until_ = {};
    store_drained_ = false;
  } else if (*r == CompleteResult::kAccepted) {
    if (variant != 0) NoteForBreaker(variant, m.outcome);
    if (auto it = peers_.find(peer); it != peers_.end()) {
      Peer& p = it->second;
      p.last_progress = clock_.Now();
      p.window = std::min(p.window + 1, MaxWindow(p.slots));
    }
    ++ops_since_commit_;
    ++progress_.completed_here;
    AddSpend(m.job, m.outcome);
    if (!m.outcome.failed || !m.outcome.retryable) {
      CountTerminal(m.job, !m.outcome.failed && m.outcome.correct);
      if (m.outcome.failed) ++progress_.failures;
    } else {
      Result<JobRow> row = store_.GetJob(JobId(m.job));
      if (row.ok() && row->state == JobState::kDead) {
        CountTerminal(m.job, false);
        ++progress_.failures;
      } else if (row.ok()) {
        RunnableAt(now + opt_.requeue_backoff_ms);
      }
    }
  } else {
    log_.Debug(Str("stale result dropped job=", m.job, " lease=", m.lease, " worker=", peer));
  }
  held_acks_.push_back({peer, AckMsg{m.job, m.lease}});
}

void CoordinatorCore::CountTerminal(int64_t, bool correct) {
  ++progress_.terminal;
  if (correct) ++progress_.correct;
  SteadyTime now = clock_.Now();
  if (!rate_window_.empty() && MsBetween(rate_window_.back().first, now) < 100) {
    rate_window_.back().second = progress_.completed_here;
  } else {
    rate_window_.push_back({now, progress_.completed_here});
    if (rate_window_.size() > 200) rate_window_.pop_front();
  }
}

void CoordinatorCore::Requeue(int64_t job, int64_t lease, const std::string& reason,
                              int64_t not_before_ms) {
  Result<CompleteResult> r =
      store_.RequeueJob(JobId(job), LeaseToken(lease), reason, not_before_ms);
  if (!r.ok()) return Fail(r.status());
  DropLease(job);
  if (*r != CompleteResult::kAccepted) return;
  ++ops_since_commit_;
  RunnableAt(not_before_ms);
  log_.Info(Str("job requeued job=", job, " lease=", lease, " reason=", reason));
}

void CoordinatorCore::ThrottleStalled(SteadyTime now) {
  if (opt_.stall_ms <= 0) return;
  for (auto& [id, p] : peers_) {
    if (p.leases.empty() || MsBetween(p.last_progress, now) <= opt_.stall_ms) continue;
    if (broker_.HasCallsOf(id)) continue;  // waiting for an LLM call is not stalling
    Throttle(p);
  }
}

// Takes back every lease of a worker that holds jobs without returning results (it may be slow,
// or keep jobs it never runs). Its jobs go back to pending without spending an attempt, and it
// may hold one job until a result of it is accepted.
void CoordinatorCore::Throttle(Peer& p) {
  std::map<int64_t, LeaseInfo> leases = std::move(p.leases);
  p.leases.clear();
  p.window = 1;
  log_.Info(Str("worker stalled worker=", p.id, " leases=", leases.size(), " window=1"));
  for (const auto& [job, info] : leases) {
    lease_owner_.erase(job);
    Send(p.id, CancelMsg{job, info.lease});
    Requeue(job, info.lease, "worker stalled", NowMs());
  }
}

void CoordinatorCore::LosePeer(const std::string& id, const std::string& reason,
                               int64_t backoff_ms) {
  auto it = peers_.find(id);
  if (it == peers_.end()) return;
  std::map<int64_t, LeaseInfo> leases = std::move(it->second.leases);
  peers_.erase(it);
  log_.Info(Str("worker gone worker=", id, " reason=", reason, " leases=", leases.size()));
  for (const auto& [job, info] : leases) {
    lease_owner_.erase(job);
    Requeue(job, info.lease, "worker " + reason, NowMs() + backoff_ms);
  }
  Fail(store_.SetWorkerState(id, reason == "said bye" ? "gone" : "lost", NowMs()));
  FromBroker(broker_.DropPeer(id));
}

void CoordinatorCore::OnSubmit(const std::string& peer, const SubmitMsg& m) {
  TraceEvent("submit_recv");
  Result<SubmittedMsg> r = Submit(m);
  if (!r.ok()) {
    log_.Warn(Str("submit refused: ", r.status().message()));
    SubmittedMsg refused;
    refused.error = r.status().message();
    return Send(peer, std::move(refused));
  }
  log_.Info(Str("submitted sweep ", r->name, ": ", r->total, " cells, ", r->inserted, " new"));
  Send(peer, std::move(*r));
}

Result<SubmittedMsg> CoordinatorCore::Submit(const SubmitMsg& m) {
  if (tasks_ == nullptr) return Status::FailedPrecondition("this coordinator takes no submits");
  const std::string path = m.path.empty() ? std::string("<submitted>") : m.path;
  CS_ASSIGN_OR_RETURN(SweepConfig config, ParseSweep(m.text, path, *tasks_));
  TraceEvent("submit_parsed");
  const int64_t max_cells =
      m.max_cells > 0 ? std::min(m.max_cells, opt_.max_cells) : opt_.max_cells;
  CS_RETURN_IF_ERROR(CheckGridSize(config, max_cells));
  // Which stored sweep it is (by name), if any: budgets and a single-sweep coordinator need it.
  CS_ASSIGN_OR_RETURN(const int64_t existing, store_.SweepIdByName(config.name));
  if (opt_.sweep_id != 0 && existing != opt_.sweep_id) {
    return Status::FailedPrecondition(
        Str(path, ": this coordinator serves only its own sweep (--exit-when-done); sweep \"",
            config.name, "\" is not it"));
  }
  const bool budgets = config.max_cost_usd || config.max_tokens_total ||
                       std::any_of(config.models.begin(), config.models.end(),
                                   [](const ModelConfig& mc) { return mc.max_cost_usd; });
  if (budgets && (existing == 0 || existing != opt_.budget.sweep_id)) {
    return Status::FailedPrecondition(
        Str(path,
            ": budgets (max_cost_usd, max_tokens_total) are enforced only for the sweep a "
            "coordinator was started with; start a coordinator for sweep \"",
            config.name, "\" instead"));
  }
  // Results held for the group commit go first; the grid load commits on its own.
  MaybeCommit(true);
  if (!fatal_.ok()) return fatal_;
  CS_ASSIGN_OR_RETURN(ExpandStats grid, ExpandIntoStore(config, store_));
  // Its seed, text or name may have changed: dispatch reads them from here (no re-read of every
  // sweep's row on the way to the lease).
  sweeps_[grid.sweep_id] =
      SweepRecord{config.name, config.seed, config.max_attempts, config.path, config.text, {}};
  if (grid.sweep_id == opt_.budget.sweep_id && opt_.budget.sweep_id != 0) {
    BudgetOptions& b = opt_.budget;
    b.max_cost_usd = config.max_cost_usd;
    b.max_tokens_total = config.max_tokens_total;
    b.model_max_cost_usd.clear();
    for (const ModelConfig& mc : config.models) {
      if (mc.max_cost_usd) b.model_max_cost_usd[mc.spec.id] = *mc.max_cost_usd;
    }
    CheckBudgets();
  }
  if (grid.inserted > 0) {
    if (opt_.job_scope_sql.empty()) {
      if (opt_.sweep_id == 0 || opt_.sweep_id == grid.sweep_id) progress_.total += grid.inserted;
    } else {
      CS_ASSIGN_OR_RETURN(JobCounts c, store_.CountJobStates(opt_.sweep_id, opt_.job_scope_sql));
      progress_.total = c.total;
    }
  }
  Reread();  // stored jobs may now point at the sweep's current variants
  TraceEvent("submit_done", grid.sweep_id, grid.inserted);
  SubmittedMsg out;
  out.sweep_id = grid.sweep_id;
  out.name = config.name;
  out.total = grid.total;
  out.inserted = grid.inserted;
  return out;
}

void CoordinatorCore::OnWake(const std::string& peer) {
  MaybeCommit(true);
  Result<JobCounts> counts = store_.CountJobStates(opt_.sweep_id, opt_.job_scope_sql);
  if (!counts.ok()) return Fail(counts.status());
  progress_.total = counts->total;
  progress_.terminal = counts->done + counts->failed + counts->dead;
  progress_.failures = counts->failed + counts->dead;
  Reread();
  log_.Info("woken: pending jobs and counts re-read");
  Send(peer, SubmittedMsg{});
}

void CoordinatorCore::Shutdown() {
  Fail(batch_.Stop(kBatchStopGraceMs));
  for (const auto& [id, peer] : peers_) Fail(store_.SetWorkerState(id, "gone", NowMs()));
  MaybeBuildReportIndexes();
}

void CoordinatorCore::MaybeBuildReportIndexes() {
  if (report_indexes_checked_ || progress_.terminal < progress_.total || !Finished()) return;
  report_indexes_checked_ = true;
  Result<int> built = store_.BuildReportIndexes();
  if (!built.ok()) return Fail(built.status());
  if (*built > 0) log_.Info(Str("built ", *built, " report index(es) left for after the sweep"));
}

void CoordinatorCore::ExpireLeases() {
  Result<std::vector<JobRow>> expired = store_.ExpiredLeases(NowMs(), 1000);
  if (!expired.ok()) return Fail(expired.status());
  for (const JobRow& row : *expired) {
    Requeue(row.job.value(), row.lease.value(), "lease expired", NowMs() + opt_.requeue_backoff_ms);
  }
}

void CoordinatorCore::RecordWorkersSeen(SteadyTime now) {
  workers_seen_written_ = now;
  const int64_t wall_now = NowMs();
  for (const auto& [id, p] : peers_) {
    Fail(store_.SetWorkerState(id, "up", wall_now - MsBetween(p.last_seen, now)));
  }
}

void CoordinatorCore::RunnableAt(int64_t wall_ms) {
  if (wall_ms <= NowMs()) return Reread();
  runnable_at_.push(wall_ms);
}

// Re-read from the start: requeued jobs sit behind the cursor and go before later ones.
void CoordinatorCore::Reread() {
  buffer_.clear();
  lanes_.Clear();
  cursor_ = JobId(0);
  fetch_idle_until_ = {};
  store_drained_ = false;
}

void CoordinatorCore::Tick() {
  MaybeBuildReportIndexes();
  SteadyTime now = clock_.Now();
  if (!runnable_at_.empty() && runnable_at_.top() <= NowMs()) {
    while (!runnable_at_.empty() && runnable_at_.top() <= NowMs()) runnable_at_.pop();
    Reread();
  }
  int64_t dead_after = static_cast<int64_t>(opt_.hb_ms) * opt_.liveness;
  std::vector<std::string> lost;
  for (auto& [id, p] : peers_) {
    if (MsBetween(p.last_seen, now) > dead_after) {
      lost.push_back(id);
    } else if (MsBetween(p.last_sent, now) >= opt_.hb_ms) {
      Send(id, CoordHeartbeatMsg{});
    }
  }
  for (const std::string& id : lost) LosePeer(id, "silent", opt_.requeue_backoff_ms);
  ThrottleStalled(now);
  if (MsBetween(last_expiry_check_, now) >= opt_.expiry_check_ms) {
    last_expiry_check_ = now;
    ExpireLeases();
  }
  if (MsBetween(workers_seen_written_, now) >= kWorkerSeenWriteMs) RecordWorkersSeen(now);
  if (fatal_.ok()) FromBroker(broker_.GrantWaiting());
  if (fatal_.ok()) TickBatches();
  store_.CheckpointIfDue();  // off the next job's way (the loop has sent this turn's JOBs)
  if (MsBetween(limits_snapshot_, now) >= opt_.limits_snapshot_ms) {
    limits_snapshot_ = now;
    FromBroker(broker_.Snapshot());
  }
  CheckBudgetStop();
}

Result<const VariantRecord*> CoordinatorCore::Variant(int64_t id) {
  auto it = variants_.find(id);
  if (it == variants_.end()) {
    CS_ASSIGN_OR_RETURN(VariantRecord v, store_.GetVariant(id));
    it = variants_.emplace(id, std::move(v)).first;
  }
  return &it->second;
}

Result<const std::string*> CoordinatorCore::MethodDefinition(int64_t id) {
  auto it = method_templates_.find(id);
  if (it == method_templates_.end()) {
    CS_ASSIGN_OR_RETURN(std::string definition, store_.GetMethodTemplate(id));
    it = method_templates_.emplace(id, std::move(definition)).first;
  }
  return &it->second;
}

Result<const SweepRecord*> CoordinatorCore::Sweep(int64_t id) {
  auto it = sweeps_.find(id);
  if (it == sweeps_.end()) {
    CS_ASSIGN_OR_RETURN(auto all, store_.ListSweeps());
    for (auto& [sid, rec] : all) sweeps_[sid] = std::move(rec);
    it = sweeps_.find(id);
    if (it == sweeps_.end()) return Status::NotFound(Str("sweep ", id));
  }
  return &it->second;
}

bool CoordinatorCore::Refill() {
  SteadyTime now = clock_.Now();
  if (now < fetch_idle_until_) return false;
  for (int pass = 0; pass < 2; ++pass) {
    Result<std::vector<JobRow>> rows =
        store_.FetchPending(NowMs(), cursor_, opt_.fetch_page, opt_.job_scope_sql);
    if (!rows.ok()) {
      Fail(rows.status());
      return false;
    }
    if (!rows->empty()) {
      cursor_ = rows->back().job;
      for (JobRow& r : *rows) {
        if (opt_.sweep_id == 0 || r.sweep_id == opt_.sweep_id) buffer_.push_back(std::move(r));
      }
      if (!buffer_.empty()) {
        store_drained_ = false;
        return true;
      }
      --pass;  // a page of other sweeps' jobs: keep paging
      continue;
    }
    if (cursor_ == JobId(0)) break;
    cursor_ = JobId(0);  // wrap around: requeued jobs sit behind the cursor
  }
  fetch_idle_until_ = now + Millis(opt_.idle_fetch_ms);
  store_drained_ = true;
  return false;
}

bool CoordinatorCore::LeaseOne(Peer& p, const JobRow& row) {
  Result<const SweepRecord*> sweep = Sweep(row.sweep_id);
  Result<const VariantRecord*> variant = Variant(row.variant_id);
  if (!sweep.ok() || !variant.ok()) {
    Fail(sweep.ok() ? variant.status() : sweep.status());
    return false;
  }
  std::string method_json;  // a declared method's definition travels with the job
  if (row.method_template_id != 0) {
    Result<const std::string*> definition = MethodDefinition(row.method_template_id);
    if (!definition.ok()) {
      Fail(definition.status());
      return false;
    }
    method_json = **definition;
  }
  if (std::optional<std::string> open = breaker_.Check(row.variant_id)) {
    FailFast(row, *open);
    return false;
  }
  JobSpec spec = MakeJobSpec((*sweep)->name, (*sweep)->seed, row, **variant);
  spec.method_json = std::move(method_json);
  if (opt_.declared) {
    // A declared task's job carries its definition and its row (read now, one at a time).
    if (Status filled = opt_.declared->Fill(spec); !filled.ok()) {
      FailFast(row, filled.message());
      return false;
    }
  }
  int64_t until = NowMs() + opt_.lease_ms;
  Result<LeaseToken> lease = store_.LeaseJob(row.job, p.id, until);
  if (!lease.ok()) {
    if (lease.status().code() == StatusCode::kFailedPrecondition) return false;  // moved on
    Fail(lease.status());
    return false;
  }
  // Batch mode: a cell that parked before replays its executions instead of running them again.
  Result<std::vector<ExecutionRecord>> replay = store_.CellExecutions(row.job);
  if (!replay.ok()) {
    Fail(replay.status());
    return false;
  }
  spec.replay_executions = std::move(*replay);
  TraceEvent("lease", row.job.value(), lease->value());
  AddLease(p, row.job.value(), LeaseInfo{lease->value(), until, row.variant_id});
  lanes_.OnLeased(row.job.value(), row.variant_id);
  --p.credit;
  Send(p.id, JobMsg{lease->value(), row.attempts + 1, std::move(spec)});
  return true;
}

void CoordinatorCore::NoteForBreaker(int64_t variant, const Outcome& outcome) {
  Result<const VariantRecord*> v = Variant(variant);
  if (!v.ok()) return;
  if (breaker_.OnResult(variant, (*v)->model.id, outcome)) {
    log_.Warn(Str("circuit breaker: the pending cells of ", (*v)->model.id,
                  " that failed with this error now fail without being sent: ", outcome.error));
  }
}

void CoordinatorCore::FailFast(const JobRow& row, const std::string& error) {
  const int64_t now = NowMs();
  Result<LeaseToken> lease = store_.LeaseJob(row.job, kBreakerWorker, now + opt_.lease_ms);
  if (!lease.ok()) {
    if (lease.status().code() != StatusCode::kFailedPrecondition) Fail(lease.status());
    return;  // moved on
  }
  Outcome outcome;
  outcome.failed = true;
  outcome.error = error;
  Result<CompleteResult> r = store_.CompleteJob(row.job, *lease, outcome, now, now);
  if (!r.ok()) return Fail(r.status());
  ++ops_since_commit_;
  CountTerminal(row.job.value(), false);
  ++progress_.failures;
}

bool CoordinatorCore::HasRoom(const Peer& p) {
  return p.credit > 0 && static_cast<int>(p.leases.size()) < p.window;
}

// Round-robin over the workers with room. Those on probation (stalled once, window not yet
// grown back) come last, so a job taken back from a stalled worker goes elsewhere if it can.
// Cells a reached budget blocks are skipped (they stay pending); after a page of them the
// pending jobs are read again only after the idle delay.
void CoordinatorCore::Dispatch() {
  if (sweep_blocked_ && opt_.sweep_id == opt_.budget.sweep_id) return;
  int skipped = 0;
  for (bool probation : {false, true}) {
    bool progress = true;
    while (progress && fatal_.ok()) {
      progress = false;
      for (auto& [id, p] : peers_) {
        if ((p.window < MaxWindow(p.slots)) != probation || !HasRoom(p)) continue;
        // Where buckets compete for the slots, a job whose call would wait yields its turn.
        bool exhausted = false;
        std::optional<JobRow> next = lanes_.Pick(
            buffer_, [this] { return Refill(); }, opt_.fetch_page, &exhausted);
        if (exhausted) fetch_idle_until_ = clock_.Now() + Millis(opt_.idle_fetch_ms);
        if (!next) return;
        JobRow row = std::move(*next);
        progress = true;
        if (Blocked(row)) {
          if (++skipped < opt_.fetch_page) continue;
          fetch_idle_until_ = clock_.Now() + Millis(opt_.idle_fetch_ms);
          return;
        }
        LeaseOne(p, row);
      }
    }
  }
}

void CoordinatorCore::MaybeCommit(bool force) {
  if (!fatal_.ok()) return;
  SteadyTime now = clock_.Now();
  bool due = force || ops_since_commit_ >= opt_.commit_max_ops ||
             MsBetween(last_commit_, now) >= opt_.commit_interval_ms;
  if (!due) return;
  if (store_.has_pending_writes()) {
    Status s = store_.Commit();
    if (!s.ok()) return Fail(s);
  }
  last_commit_ = now;
  ops_since_commit_ = 0;
  for (Outgoing& ack : held_acks_) Send(ack.peer, std::move(ack.msg));
  held_acks_.clear();
}

std::vector<Outgoing> CoordinatorCore::TakeOutbox() {
  std::vector<Outgoing> out;
  out.swap(outbox_);
  return out;
}

int64_t CoordinatorCore::NextWakeMs() const {
  int64_t wake = std::min<int64_t>(opt_.hb_ms / 2, opt_.expiry_check_ms);
  if (!runnable_at_.empty()) wake = std::min<int64_t>(wake, runnable_at_.top() - NowMs());
  if (!held_acks_.empty() || store_.has_pending_writes()) {
    int64_t since = MsBetween(last_commit_, clock_.Now());
    wake = std::min<int64_t>(wake, std::max<int64_t>(0, opt_.commit_interval_ms - since));
  }
  return std::max<int64_t>(batch_.NextWakeMs(broker_.NextWakeMs(wake)), 0);
}

bool CoordinatorCore::Finished() const {
  return (progress_.terminal >= progress_.total || budget_stopped_) && held_acks_.empty() &&
         !store_.has_pending_writes();
}

Progress CoordinatorCore::progress() const {
  Progress p = progress_;
  p.stopped = stop_reason_;
  p.budget_stopped = budget_stopped_;
  p.workers = static_cast<int>(peers_.size());
  p.leased = static_cast<int64_t>(lease_owner_.size());
  auto& window = rate_window_;
  SteadyTime now = clock_.Now();
  while (window.size() > 1 && MsBetween(window.front().first, now) > 10'000) window.pop_front();
  if (window.size() > 1) {
    double secs = MsBetween(window.front().first, window.back().first) / 1000.0;
    double n = static_cast<double>(window.back().second - window.front().second);
    if (secs > 0.2) p.rate_per_s = n / secs;
  }
  if (p.rate_per_s > 0) p.eta_s = static_cast<double>(p.total - p.terminal) / p.rate_per_s;
  return p;
}

}  // namespace codesweep
