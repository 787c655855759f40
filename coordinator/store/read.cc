// Store: workers, the call cache and the read side used by `codesweep status`.
#include <string>

#include "coordinator/store/store.h"
#include "coordinator/store/store_impl.h"

namespace codesweep {

using store_internal::Stmt;

Status Store::UpsertWorker(const WorkerRecord& w) {
  return impl_->Atomic([&]() -> Status {
    CS_ASSIGN_OR_RETURN(
        Stmt stmt,
        impl_->db->Prepare("INSERT INTO workers (worker_id, host, pid, slots, labels_json,"
                           " first_seen_ms, last_seen_ms, state)"
                           " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6, ?7)"
                           " ON CONFLICT (worker_id) DO UPDATE SET host = excluded.host,"
                           " pid = excluded.pid, slots = excluded.slots,"
                           " labels_json = excluded.labels_json,"
                           " last_seen_ms = excluded.last_seen_ms, state = excluded.state"));
    stmt.Bind(1, w.worker_id)
        .Bind(2, w.host)
        .Bind(3, w.pid)
        .Bind(4, w.slots)
        .Bind(5, w.labels_json)
        .Bind(6, w.last_seen_ms)
        .Bind(7, w.state);
    return stmt.Run();
  });
}

Status Store::SetWorkerState(const std::string& worker_id, const std::string& state,
                             int64_t last_seen_ms) {
  return impl_->Atomic([&]() -> Status {
    CS_ASSIGN_OR_RETURN(Stmt stmt,
                        impl_->db->Prepare("UPDATE workers SET state = ?2, last_seen_ms = ?3"
                                           " WHERE worker_id = ?1"));
    stmt.Bind(1, worker_id).Bind(2, state).Bind(3, last_seen_ms);
    return stmt.Run();
  });
}

Status Store::RecordRun(const RunRecord& r) {
  const int64_t started = r.started_ms != 0 ? r.started_ms : Impl::WallMs();
  CS_RETURN_IF_ERROR(impl_->Atomic([&]() -> Status {
    CS_ASSIGN_OR_RETURN(
        Stmt stmt, impl_->db->Prepare("INSERT INTO runs (sweep_id, command, version, git_commit,"
                                      " sweep_sha256, host, pid, started_ms)"
                                      " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"));
    stmt.Bind(1, r.sweep_id)
        .Bind(2, r.command)
        .Bind(3, r.version)
        .Bind(4, r.git_commit)
        .Bind(5, r.sweep_sha256)
        .Bind(6, r.host)
        .Bind(7, r.pid)
        .Bind(8, started);
    return stmt.Run();
  }));
  return Commit();
}

// ---- call cache ----

Result<std::optional<StoredCall>> Store::LookupCall(const std::string& call_key) {
  CS_ASSIGN_OR_RETURN(Stmt stmt,
                      impl_->db->Prepare("SELECT provider, model, response_json, tokens_in,"
                                         " tokens_out, created_ms FROM call_cache"
                                         " WHERE call_key = ?1"));
  stmt.Bind(1, call_key);
  CS_ASSIGN_OR_RETURN(bool row, stmt.Step());
  if (!row) return std::optional<StoredCall>();
  StoredCall c;
  c.call_key = call_key;
  c.provider = stmt.Text(0);
  c.model = stmt.Text(1);
  c.response_json = stmt.Text(2);
  c.tokens_in = stmt.Int(3);
  c.tokens_out = stmt.Int(4);
  c.created_ms = stmt.Int(5);
  return std::optional<StoredCall>(std::move(c));
}

Status Store::PutCall(const StoredCall& c) {
  const int64_t created = c.created_ms != 0 ? c.created_ms : Impl::WallMs();
  return impl_->Atomic([&]() -> Status {
    CS_ASSIGN_OR_RETURN(
        Stmt stmt, impl_->db->Prepare("INSERT OR IGNORE INTO call_cache (call_key, provider, model,"
                                      " response_json, tokens_in, tokens_out, created_ms)"
                                      " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"));
    stmt.Bind(1, c.call_key)
        .Bind(2, c.provider)
        .Bind(3, c.model)
        .Bind(4, c.response_json)
        .Bind(5, c.tokens_in)
        .Bind(6, c.tokens_out)
        .Bind(7, created);
    return stmt.Run();
  });
}

Result<int64_t> Store::CountCalls() {
  CS_ASSIGN_OR_RETURN(Stmt stmt, impl_->db->Prepare("SELECT count(*) FROM call_cache"));
  CS_ASSIGN_OR_RETURN(bool row, stmt.Step());
  return row ? stmt.Int(0) : 0;
}

Status Store::ClearCalls() {
  CS_RETURN_IF_ERROR(impl_->Atomic([&]() -> Status {
    CS_ASSIGN_OR_RETURN(Stmt stmt, impl_->db->Prepare("DELETE FROM call_cache"));
    return stmt.Run();
  }));
  return Commit();
}

// ---- status ----

Result<std::vector<StatusRow>> Store::StatusRows(const std::string& sweep_filter,
                                                 const ReadFilter& filter, int64_t now_ms) {
  // Built once: the statement cache is keyed by the SQL's address.
  static const std::string sql =
      "WITH live AS (SELECT worker_id FROM workers WHERE state = 'up' AND last_seen_ms >= ?5)"
      " SELECT s.name, v.model, j.method,"
      " sum(j.state = 'pending'), sum(j.state = 'leased'), sum(j.state = 'done'),"
      " sum(j.state = 'failed'), sum(j.state = 'dead'), coalesce(sum(r.correct), 0),"
      " coalesce(min(r.finished_ms), 0), coalesce(max(r.finished_ms), 0),"
      " sum(j.state = 'leased' AND ?6 > 0 AND j.worker NOT IN (SELECT worker_id FROM live)),"
      " coalesce(sum(?6 > 0 AND r.finished_ms >= ?6 - " +
      std::to_string(kRecentWindowMs) +
      "), 0), sum(j.state = 'parked')"
      " FROM jobs j JOIN sweeps s ON s.id = j.sweep_id"
      " JOIN variants v ON v.id = j.variant_id"
      " LEFT JOIN results r ON r.job_id = j.id"
      " WHERE (?1 = '' OR s.name = ?1) AND " +
      SqlListClause(2, "j.task") + " AND (" + SqlListClause(3, "v.model") + " OR " +
      SqlListClause(3, "v.model_name") + ") AND " + SqlListClause(4, "j.method") +
      " GROUP BY s.name, v.model, j.method ORDER BY s.name, v.model, j.method";
  CS_ASSIGN_OR_RETURN(Stmt stmt, impl_->db->Prepare(sql.c_str()));
  stmt.Bind(1, sweep_filter)
      .Bind(2, filter.task)
      .Bind(3, filter.model)
      .Bind(4, filter.method)
      .Bind(5, now_ms - kLiveWorkerMs)
      .Bind(6, now_ms);
  std::vector<StatusRow> out;
  while (true) {
    CS_ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) break;
    StatusRow r;
    r.sweep = stmt.Text(0);
    r.model = stmt.Text(1);
    r.method = stmt.Text(2);
    r.pending = stmt.Int(3);
    r.leased = stmt.Int(4);
    r.done = stmt.Int(5);
    r.failed = stmt.Int(6);
    r.dead = stmt.Int(7);
    r.correct = stmt.Int(8);
    r.first_finished_ms = stmt.Int(9);
    r.last_finished_ms = stmt.Int(10);
    r.orphaned = stmt.Int(11);
    r.recent = stmt.Int(12);
    r.parked = stmt.Int(13);
    out.push_back(std::move(r));
  }
  return out;
}

Result<JobCounts> Store::CountJobStates(int64_t sweep_id, const std::string& scope_sql) {
  const std::string sql =
      "SELECT count(*), sum(state = 'pending'), sum(state = 'leased'),"
      " sum(state = 'done'), sum(state = 'failed'), sum(state = 'dead'),"
      " sum(state = 'parked') FROM jobs WHERE (?1 = 0 OR sweep_id = ?1)" +
      (scope_sql.empty() ? std::string() : " AND " + scope_sql);
  CS_ASSIGN_OR_RETURN(Stmt stmt, impl_->db->Prepare(impl_->BuiltSql(sql)));
  stmt.Bind(1, sweep_id);
  CS_ASSIGN_OR_RETURN(bool row, stmt.Step());
  JobCounts c;
  if (row) {
    c.total = stmt.Int(0);
    c.pending = stmt.Int(1);
    c.leased = stmt.Int(2);
    c.done = stmt.Int(3);
    c.failed = stmt.Int(4);
    c.dead = stmt.Int(5);
    c.parked = stmt.Int(6);
  }
  return c;
}

Result<int64_t> Store::CountJobs(std::optional<JobState> state, int64_t sweep_id) {
  // One statement per shape, so that counting pending jobs can use the jobs_pending index.
  const char* sql = nullptr;
  if (state && sweep_id != 0) {
    sql = "SELECT count(*) FROM jobs WHERE sweep_id = ?2 AND state = ?1";
  } else if (state) {
    sql = "SELECT count(*) FROM jobs WHERE state = ?1";
  } else if (sweep_id != 0) {
    sql = "SELECT count(*) FROM jobs WHERE sweep_id = ?2";
  } else {
    sql = "SELECT count(*) FROM jobs";
  }
  CS_ASSIGN_OR_RETURN(Stmt stmt, impl_->db->Prepare(sql));
  if (state) stmt.Bind(1, JobStateName(*state));
  if (sweep_id != 0) stmt.Bind(2, sweep_id);
  CS_ASSIGN_OR_RETURN(bool row, stmt.Step());
  return row ? stmt.Int(0) : 0;
}

}  // namespace codesweep
