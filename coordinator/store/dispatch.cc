// Store: the dispatch path (pending pages, leases, fenced completion, requeue, restart grace).
#include <algorithm>
#include <string>

#include "coordinator/store/store.h"
#include "coordinator/store/store_impl.h"

namespace codesweep {

using store_internal::Stmt;

namespace {

// What CompleteJob/RequeueJob need to know about a job before a fenced write.
struct LeaseState {
  bool found = false;
  std::string state;
  int64_t lease_token = 0;
  int attempts = 0;
  int max_attempts = 1;
};

Result<LeaseState> ReadLeaseState(store_internal::StoreDb& db, JobId job) {
  CS_ASSIGN_OR_RETURN(Stmt stmt, db.Prepare("SELECT j.state, j.lease_token, j.attempts,"
                                            " s.max_attempts FROM jobs j"
                                            " JOIN sweeps s ON s.id = j.sweep_id WHERE j.id = ?1"));
  stmt.Bind(1, job.value());
  CS_ASSIGN_OR_RETURN(bool row, stmt.Step());
  LeaseState ls;
  if (!row) return ls;
  ls.found = true;
  ls.state = stmt.Text(0);
  ls.lease_token = stmt.Int(1);
  ls.attempts = static_cast<int>(stmt.Int(2));
  ls.max_attempts = static_cast<int>(stmt.Int(3));
  return ls;
}

// How many times a job may lose its worker before it is dead: lost workers spend no attempt, so
// without a bound a cell that crashes every worker it reaches would be retried forever.
int64_t LostLeaseLimit(int max_attempts) {
  return std::max<int64_t>(20, 10 * int64_t{max_attempts});
}

bool LeaseMatches(const LeaseState& ls, LeaseToken lease) {
  return ls.found && ls.state == "leased" && ls.lease_token == lease.value();
}

// Moves a leased job to `state` (pending, failed, dead or done) and clears its lease.
Status SetJobState(store_internal::StoreDb& db, JobId job, std::string_view state,
                   std::string_view error, int64_t not_before_ms, int64_t now_ms) {
  CS_ASSIGN_OR_RETURN(Stmt stmt,
                      db.Prepare("UPDATE jobs SET state = ?2, last_error = ?3, not_before_ms = ?4,"
                                 " lease_until_ms = 0, updated_ms = ?5 WHERE id = ?1"));
  stmt.Bind(1, job.value()).Bind(2, state).Bind(3, error).Bind(4, not_before_ms).Bind(5, now_ms);
  return stmt.Run();
}

Status EndAttempt(store_internal::StoreDb& db, LeaseToken lease, std::string_view outcome,
                  std::string_view error, int64_t now_ms) {
  CS_ASSIGN_OR_RETURN(Stmt stmt, db.Prepare("UPDATE attempts SET ended_ms = ?2, outcome = ?3,"
                                            " error = ?4 WHERE lease_token = ?1"));
  stmt.Bind(1, lease.value()).Bind(2, now_ms).Bind(3, outcome).Bind(4, error);
  return stmt.Run();
}

// Batch mode: leased -> parked on outcome.parked_on (or pending at once when that call ended
// meanwhile). The run's executions are kept for the next run to replay; its calls are not
// recorded (the run that finishes records them all); the attempt is given back.
Status ParkJob(store_internal::StoreDb& db, JobId job, LeaseToken lease, const Outcome& o,
               int64_t now_ms) {
  CS_ASSIGN_OR_RETURN(std::string executions, ExecutionsToJson(o.executions));
  CS_ASSIGN_OR_RETURN(Stmt keep, db.Prepare("INSERT OR REPLACE INTO cell_executions (job_id,"
                                            " executions_json) VALUES (?1, ?2)"));
  CS_RETURN_IF_ERROR(keep.Bind(1, job.value()).Bind(2, executions).Run());
  CS_ASSIGN_OR_RETURN(Stmt ended, db.Prepare("SELECT (SELECT count(*) FROM call_cache WHERE"
                                             " call_key = ?1) + (SELECT count(*) FROM"
                                             " batch_requests WHERE call_key = ?1 AND state IN"
                                             " ('done', 'failed'))"));
  ended.Bind(1, o.parked_on);
  CS_ASSIGN_OR_RETURN(bool row, ended.Step());
  const bool answered = row && ended.Int(0) > 0;
  CS_ASSIGN_OR_RETURN(Stmt wait, db.Prepare("INSERT INTO batch_waits (job_id, call_key, answered)"
                                            " VALUES (?1, ?2, ?3) ON CONFLICT (job_id, call_key)"
                                            " DO NOTHING"));
  CS_RETURN_IF_ERROR(wait.Bind(1, job.value()).Bind(2, o.parked_on).Bind(3, answered).Run());
  CS_RETURN_IF_ERROR(SetJobState(db, job, answered ? "pending" : "parked",
                                 "parked: waiting for a provider batch", 0, now_ms));
  CS_ASSIGN_OR_RETURN(Stmt refund, db.Prepare("UPDATE jobs SET attempts = max(attempts - 1, 0)"
                                              " WHERE id = ?1"));
  CS_RETURN_IF_ERROR(refund.Bind(1, job.value()).Run());
  return EndAttempt(db, lease, "parked", "", now_ms);
}

Status InsertResult(store_internal::StoreDb& db, JobId job, LeaseToken lease, const Outcome& o,
                    int64_t now_ms) {
  CS_ASSIGN_OR_RETURN(
      Stmt stmt,
      db.Prepare("INSERT INTO results (job_id, lease_token, final_answer, correct, score,"
                 " passed_by, verdict_reason, code_used, code_ok, turns_used, n_calls,"
                 " n_executions, tokens_in, tokens_out, tokens_estimated, cost_usd, wall_ms,"
                 " extra_json, finished_ms, answer_source) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7,"
                 " ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20)"));
  stmt.Bind(1, job.value())
      .Bind(2, lease.value())
      .Bind(3, o.final_answer)
      .Bind(4, o.correct)
      .Bind(5, o.score)
      .Bind(6, o.passed_by)
      .Bind(7, o.verdict_reason)
      .Bind(8, o.code_used)
      .Bind(9, o.code_ok)
      .Bind(10, o.turns_used)
      .Bind(11, static_cast<int64_t>(o.calls.size()))
      .Bind(12, static_cast<int64_t>(o.executions.size()))
      .Bind(13, o.tokens_in)
      .Bind(14, o.tokens_out)
      .Bind(15, o.tokens_estimated)
      .Bind(16, o.cost_usd)
      .Bind(17, o.wall_ms)
      .Bind(18, o.extra_json.empty() ? std::string("{}") : o.extra_json)
      .Bind(19, now_ms)
      .Bind(20, o.answer_source);
  return stmt.Run();
}

Status InsertCalls(store_internal::StoreDb& db, JobId job, LeaseToken lease,
                   const std::vector<CallRecord>& calls) {
  if (calls.empty()) return Status::OK();
  CS_ASSIGN_OR_RETURN(
      Stmt stmt,
      db.Prepare("INSERT INTO calls (job_id, lease_token, idx, turn, call_key, request_json,"
                 " response_json, tokens_in, tokens_out, tokens_estimated, latency_ms,"
                 " http_status, attempts, rate_limited, cost_usd, cached, error, prompt_truncated)"
                 " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16,"
                 " ?17, ?18)"));
  for (const CallRecord& c : calls) {
    stmt.Bind(1, job.value())
        .Bind(2, lease.value())
        .Bind(3, c.index)
        .Bind(4, c.turn)
        .Bind(5, c.call_key)
        .Bind(6, c.request_json)
        .Bind(7, c.response_json)
        .Bind(8, c.tokens_in)
        .Bind(9, c.tokens_out)
        .Bind(10, c.tokens_estimated)
        .Bind(11, c.latency_ms)
        .Bind(12, c.http_status)
        .Bind(13, c.attempts)
        .Bind(14, c.rate_limited)
        .Bind(15, c.cost_usd)
        .Bind(16, c.cached)
        .Bind(17, c.error)
        .Bind(18, c.prompt_truncated);
    CS_RETURN_IF_ERROR(stmt.Run());
    stmt.Reset();
  }
  return Status::OK();
}

Status InsertExecutions(store_internal::StoreDb& db, JobId job, LeaseToken lease,
                        const std::vector<ExecutionRecord>& executions) {
  if (executions.empty()) return Status::OK();
  CS_ASSIGN_OR_RETURN(
      Stmt stmt,
      db.Prepare("INSERT INTO executions (job_id, lease_token, idx, turn, code, status,"
                 " exit_code, signal, wall_ms, cpu_ms, peak_rss_kb, stdout_text, stderr_text,"
                 " stdout_truncated, stderr_truncated, tier) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7,"
                 " ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)"));
  for (const ExecutionRecord& e : executions) {
    stmt.Bind(1, job.value())
        .Bind(2, lease.value())
        .Bind(3, e.index)
        .Bind(4, e.turn)
        .Bind(5, e.code)
        .Bind(6, e.status)
        .Bind(7, e.exit_code)
        .Bind(8, e.signal)
        .Bind(9, e.wall_ms)
        .Bind(10, e.cpu_ms)
        .Bind(11, e.peak_rss_kb)
        .Bind(12, e.stdout_text)
        .Bind(13, e.stderr_text)
        .Bind(14, e.stdout_truncated)
        .Bind(15, e.stderr_truncated)
        .Bind(16, e.tier);
    CS_RETURN_IF_ERROR(stmt.Run());
    stmt.Reset();
  }
  return Status::OK();
}

Result<std::vector<JobRow>> CollectJobs(Stmt& stmt) {
  std::vector<JobRow> out;
  while (true) {
    CS_ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) break;
    out.push_back(ReadJobRow(stmt));
  }
  return out;
}

}  // namespace

Result<std::vector<JobRow>> Store::FetchPending(int64_t now_ms, JobId after_job, int limit,
                                                const std::string& scope_sql) {
  const std::string sql = "SELECT " CS_JOB_COLS
                          " FROM jobs INDEXED BY jobs_pending"
                          " WHERE state = 'pending' AND id > ?1 AND not_before_ms <= ?2" +
                          (scope_sql.empty() ? std::string() : " AND " + scope_sql) +
                          " ORDER BY id LIMIT ?3";
  CS_ASSIGN_OR_RETURN(Stmt stmt, impl_->db->Prepare(impl_->BuiltSql(sql)));
  stmt.Bind(1, after_job.value()).Bind(2, now_ms).Bind(3, limit);
  return CollectJobs(stmt);
}

Result<LeaseToken> Store::LeaseJob(JobId job, const std::string& worker, int64_t lease_until_ms) {
  const int64_t now = Impl::WallMs();
  return impl_->Atomic([&]() -> Result<LeaseToken> {
    LeaseToken token(impl_->next_lease);
    int64_t attempt = 0;
    {
      CS_ASSIGN_OR_RETURN(
          Stmt stmt,
          impl_->db->Prepare("UPDATE jobs SET state = 'leased', attempts = attempts + 1,"
                             " lease_token = ?2, worker = ?3, lease_until_ms = ?4, updated_ms = ?5"
                             " WHERE id = ?1 AND state = 'pending' RETURNING attempts"));
      stmt.Bind(1, job.value()).Bind(2, token.value()).Bind(3, worker).Bind(4, lease_until_ms);
      stmt.Bind(5, now);
      CS_ASSIGN_OR_RETURN(bool row, stmt.Step());
      if (!row) {
        stmt.Reset();
        CS_ASSIGN_OR_RETURN(LeaseState ls, ReadLeaseState(*impl_->db, job));
        if (!ls.found) return Status::NotFound("job " + std::to_string(job.value()));
        return Status::FailedPrecondition("job " + std::to_string(job.value()) + " is " + ls.state +
                                          ", not pending");
      }
      attempt = stmt.Int(0);
      CS_RETURN_IF_ERROR(stmt.Run());
    }
    CS_ASSIGN_OR_RETURN(
        Stmt ins,
        impl_->db->Prepare("INSERT INTO attempts (lease_token, job_id, attempt, worker,"
                           " started_ms, lease_until_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"));
    ins.Bind(1, token.value()).Bind(2, job.value()).Bind(3, attempt).Bind(4, worker);
    ins.Bind(5, now).Bind(6, lease_until_ms);
    CS_RETURN_IF_ERROR(ins.Run());
    impl_->next_lease += 1;
    return token;
  });
}

Result<CompleteResult> Store::RenewLease(JobId job, LeaseToken lease, int64_t lease_until_ms) {
  return impl_->Atomic([&]() -> Result<CompleteResult> {
    CS_ASSIGN_OR_RETURN(Stmt stmt,
                        impl_->db->Prepare("UPDATE jobs SET lease_until_ms = ?3 WHERE id = ?1"
                                           " AND state = 'leased' AND lease_token = ?2"));
    stmt.Bind(1, job.value()).Bind(2, lease.value()).Bind(3, lease_until_ms);
    CS_RETURN_IF_ERROR(stmt.Run());
    return stmt.Changes() == 1 ? CompleteResult::kAccepted : CompleteResult::kStale;
  });
}

Result<CompleteResult> Store::CompleteJob(JobId job, LeaseToken lease, const Outcome& outcome,
                                          int64_t now_ms, int64_t retry_not_before_ms) {
  return impl_->Atomic([&]() -> Result<CompleteResult> {
    store_internal::StoreDb& db = *impl_->db;
    CS_ASSIGN_OR_RETURN(LeaseState ls, ReadLeaseState(db, job));
    if (!LeaseMatches(ls, lease)) return CompleteResult::kStale;
    if (outcome.parked) {
      CS_RETURN_IF_ERROR(ParkJob(db, job, lease, outcome, now_ms));
      return CompleteResult::kAccepted;
    }
    CS_RETURN_IF_ERROR(InsertCalls(db, job, lease, outcome.calls));
    CS_RETURN_IF_ERROR(InsertExecutions(db, job, lease, outcome.executions));
    if (!outcome.failed) {
      CS_RETURN_IF_ERROR(InsertResult(db, job, lease, outcome, now_ms));
      CS_RETURN_IF_ERROR(SetJobState(db, job, "done", "", 0, now_ms));
      CS_RETURN_IF_ERROR(EndAttempt(db, lease, "done", "", now_ms));
      return CompleteResult::kAccepted;
    }
    std::string_view next = "failed", ended = "failed";
    int64_t not_before = 0;
    if (outcome.retryable) {
      bool exhausted = ls.attempts >= ls.max_attempts;
      next = exhausted ? "dead" : "pending";
      ended = exhausted ? "dead" : "retry";
      not_before = exhausted ? 0 : retry_not_before_ms;
    }
    CS_RETURN_IF_ERROR(SetJobState(db, job, next, outcome.error, not_before, now_ms));
    CS_RETURN_IF_ERROR(EndAttempt(db, lease, ended, outcome.error, now_ms));
    return CompleteResult::kAccepted;
  });
}

Result<CompleteResult> Store::RequeueJob(JobId job, LeaseToken lease, const std::string& reason,
                                         int64_t not_before_ms) {
  const int64_t now = Impl::WallMs();
  return impl_->Atomic([&]() -> Result<CompleteResult> {
    store_internal::StoreDb& db = *impl_->db;
    CS_ASSIGN_OR_RETURN(LeaseState ls, ReadLeaseState(db, job));
    if (!LeaseMatches(ls, lease)) return CompleteResult::kStale;
    // The cell did not fail, its worker went away: the attempt is given back (issue 20). A cell
    // whose workers keep vanishing may be what kills them: past LostLeaseLimit it is dead.
    // Lost leases before the user's last retry (jobs.retry_floor) are history: not counted.
    CS_ASSIGN_OR_RETURN(Stmt lost, db.Prepare("SELECT count(*) FROM attempts"
                                              " WHERE job_id = ?1 AND outcome = 'requeued'"
                                              " AND lease_token > (SELECT retry_floor FROM jobs"
                                              " WHERE id = ?1)"));
    lost.Bind(1, job.value());
    CS_ASSIGN_OR_RETURN(bool counted, lost.Step());
    const int64_t times = (counted ? lost.Int(0) : 0) + 1;
    if (times >= LostLeaseLimit(ls.max_attempts)) {
      const std::string why = "lost its worker " + std::to_string(times) +
                              " times (the cell may be what ends them); last: " + reason;
      CS_RETURN_IF_ERROR(SetJobState(db, job, "dead", why, 0, now));
      CS_RETURN_IF_ERROR(EndAttempt(db, lease, "requeued", reason, now));
      return CompleteResult::kAccepted;
    }
    CS_RETURN_IF_ERROR(SetJobState(db, job, "pending", reason, not_before_ms, now));
    CS_ASSIGN_OR_RETURN(Stmt refund, db.Prepare("UPDATE jobs SET attempts = max(attempts - 1, 0)"
                                                " WHERE id = ?1"));
    refund.Bind(1, job.value());
    CS_RETURN_IF_ERROR(refund.Run());
    CS_RETURN_IF_ERROR(EndAttempt(db, lease, "requeued", reason, now));
    return CompleteResult::kAccepted;
  });
}

Result<std::vector<JobRow>> Store::ExpiredLeases(int64_t now_ms, int limit) {
  CS_ASSIGN_OR_RETURN(Stmt stmt,
                      impl_->db->Prepare("SELECT " CS_JOB_COLS " FROM jobs INDEXED BY jobs_leased"
                                         " WHERE state = 'leased' AND lease_until_ms < ?1"
                                         " ORDER BY lease_until_ms, id LIMIT ?2"));
  stmt.Bind(1, now_ms).Bind(2, limit);
  return CollectJobs(stmt);
}

Result<std::vector<JobRow>> Store::LeasedJobs() {
  CS_ASSIGN_OR_RETURN(Stmt stmt,
                      impl_->db->Prepare("SELECT " CS_JOB_COLS " FROM jobs INDEXED BY jobs_leased"
                                         " WHERE state = 'leased' ORDER BY id"));
  return CollectJobs(stmt);
}

Status Store::ExtendAllLeases(int64_t until_ms) {
  return impl_->Atomic([&]() -> Status {
    CS_ASSIGN_OR_RETURN(Stmt stmt, impl_->db->Prepare("UPDATE jobs SET lease_until_ms = ?1"
                                                      " WHERE state = 'leased'"));
    stmt.Bind(1, until_ms);
    return stmt.Run();
  });
}

Result<JobRow> Store::GetJob(JobId job) {
  CS_ASSIGN_OR_RETURN(Stmt stmt,
                      impl_->db->Prepare("SELECT " CS_JOB_COLS " FROM jobs WHERE id = ?1"));
  stmt.Bind(1, job.value());
  CS_ASSIGN_OR_RETURN(bool row, stmt.Step());
  if (!row) return Status::NotFound("job " + std::to_string(job.value()));
  return ReadJobRow(stmt);
}

Result<int64_t> Store::RetryFailed(int64_t sweep_id) { return RetryCells(sweep_id, {}); }

}  // namespace codesweep
