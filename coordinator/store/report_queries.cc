// ReportDb: read-only queries for `codesweep report` and `codesweep show` (see store_report.h).
#include "coordinator/store/report_queries.h"

#include <sqlite3.h>

#include <string>
#include <string_view>

#include "coordinator/store/sqlite_db.h"
#include "coordinator/store/store.h"
#include "coordinator/store/store_impl.h"
#include "coordinator/store/store_sql.h"

namespace codesweep {

using store_internal::Stmt;
using store_internal::StoreDb;

namespace {

Result<int> UserVersion(StoreDb& db) {
  CS_ASSIGN_OR_RETURN(Stmt stmt, db.Prepare("PRAGMA user_version"));
  CS_ASSIGN_OR_RETURN(bool row, stmt.Step());
  return row ? static_cast<int>(stmt.Int(0)) : 0;
}

// A views migration (NNNN_*views.sql) the database lacks: its CREATE VIEW statements run as
// TEMP views in this connection (its indexes are skipped: they only make it faster), so an older
// database can be reported on without writing to it. Statements end with ";\n".
Status AddMissingViews(StoreDb& db, int version, const std::string& path) {
  for (const store_sql::Migration& m : store_sql::kMigrations) {
    if (m.version <= version || MigrationInvisibleToReaders(m.name)) continue;
    std::string_view name(m.name);
    if (!name.ends_with("views.sql")) {
      return Status::FailedPrecondition(
          path + ": database schema version " + std::to_string(version) + " needs migration " +
          m.name + "; open it once with a command that writes to it (codesweep run)");
    }
    const std::string sql(m.sql);
    const std::string create = "CREATE VIEW ";
    for (size_t at = sql.find(create); at != std::string::npos; at = sql.find(create, at + 1)) {
      size_t end = sql.find(";\n", at);
      const std::string body = sql.substr(at + create.size(), end - at - create.size());
      // A later views migration redefines a view an earlier one made: replace the temp copy.
      const std::string name = body.substr(0, body.find_first_of(" \n"));
      CS_RETURN_IF_ERROR(db.Exec("DROP VIEW IF EXISTS temp." + name));
      CS_RETURN_IF_ERROR(db.Exec("CREATE TEMP VIEW " + body)
                             .WithContext(std::string("temp views from ") + m.name));
    }
  }
  return Status::OK();
}

std::optional<std::string> ColumnText(sqlite3_stmt* stmt, int col) {
  if (sqlite3_column_type(stmt, col) == SQLITE_NULL) return std::nullopt;
  if (sqlite3_column_type(stmt, col) == SQLITE_BLOB) {
    const void* p = sqlite3_column_blob(stmt, col);
    return store_internal::BytesToHex(
        std::string_view(static_cast<const char*>(p), sqlite3_column_bytes(stmt, col)));
  }
  const unsigned char* p = sqlite3_column_text(stmt, col);
  return std::string(reinterpret_cast<const char*>(p), sqlite3_column_bytes(stmt, col));
}

bool IsDigits(std::string_view s) {
  if (s.empty() || s.size() > 18) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

}  // namespace

ReportDb::ReportDb(std::unique_ptr<StoreDb> db) : db_(std::move(db)) {}
ReportDb::~ReportDb() = default;

Result<std::unique_ptr<ReportDb>> ReportDb::Open(const std::string& path) {
  CS_ASSIGN_OR_RETURN(std::unique_ptr<StoreDb> db, StoreDb::Open(path, true, false));
  CS_RETURN_IF_ERROR(db->Exec("PRAGMA busy_timeout = 5000"));
  CS_ASSIGN_OR_RETURN(int version, UserVersion(*db));
  if (version == 0) return Status::FailedPrecondition(path + ": not a codesweep database");
  if (version > Store::LatestSchemaVersion()) {
    return Status::FailedPrecondition(path + ": database schema version " +
                                      std::to_string(version) +
                                      " is newer than this codesweep binary supports");
  }
  CS_RETURN_IF_ERROR(AddMissingViews(*db, version, path));
  CS_RETURN_IF_ERROR(db->Exec("PRAGMA query_only = 1"));
  return std::unique_ptr<ReportDb>(new ReportDb(std::move(db)));
}

Result<std::vector<std::string>> ReportDb::SweepNames() {
  CS_ASSIGN_OR_RETURN(Stmt stmt, db_->Prepare("SELECT name FROM sweeps ORDER BY id"));
  std::vector<std::string> out;
  while (true) {
    CS_ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) return out;
    out.push_back(stmt.Text(0));
  }
}

Result<std::vector<SweepSource>> ReportDb::SweepSources() {
  CS_ASSIGN_OR_RETURN(Stmt stmt, db_->Prepare("SELECT name, source_path, source_text, seed,"
                                              " created_ms, updated_ms FROM sweeps ORDER BY id"));
  std::vector<SweepSource> out;
  while (true) {
    CS_ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) return out;
    out.push_back(
        {stmt.Text(0), stmt.Text(1), stmt.Text(2), stmt.Int(3), stmt.Int(4), stmt.Int(5)});
  }
}

Result<std::vector<GrainRow>> ReportDb::Grain(const std::string& sweep) {
  CS_ASSIGN_OR_RETURN(
      Stmt stmt,
      db_->Prepare("SELECT sweep, model, task, method, turns, complexity, complexity_order, n,"
                   " correct, score_sum, code_used, code_ok, tokens_in, tokens_out, cost_usd,"
                   " wall_ms, calls FROM v_report_grain WHERE ?1 = '' OR sweep = ?1"
                   " ORDER BY complexity_order"));
  stmt.Bind(1, sweep);
  std::vector<GrainRow> out;
  while (true) {
    CS_ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) return out;
    GrainRow g;
    g.sweep = stmt.Text(0);
    g.model = stmt.Text(1);
    g.task = stmt.Text(2);
    g.method = stmt.Text(3);
    g.turns = static_cast<int>(stmt.Int(4));
    g.complexity = stmt.Text(5);
    g.complexity_order = stmt.Int(6);
    g.n = stmt.Int(7);
    g.correct = stmt.Int(8);
    g.score_sum = stmt.Double(9);
    g.code_used = stmt.Int(10);
    g.code_ok = stmt.Int(11);
    g.tokens_in = stmt.Int(12);
    g.tokens_out = stmt.Int(13);
    g.cost_usd = stmt.Double(14);
    g.wall_ms = stmt.Int(15);
    g.calls = stmt.Int(16);
    out.push_back(std::move(g));
  }
}

Result<std::vector<AnswerSourceRow>> ReportDb::AnswerSources(const std::string& sweep) {
  // A database older than migration 0010, read without writing, has no results.answer_source.
  CS_ASSIGN_OR_RETURN(Stmt has, db_->Prepare("SELECT count(*) FROM pragma_table_info('results')"
                                             " WHERE name = 'answer_source'"));
  CS_ASSIGN_OR_RETURN(bool has_row, has.Step());
  if (!has_row || has.Int(0) == 0) return std::vector<AnswerSourceRow>{};
  CS_ASSIGN_OR_RETURN(
      Stmt stmt,
      db_->Prepare("SELECT sweep, model, task, method, turns, n, tagged, correct_tagged, fallback,"
                   " correct_fallback FROM v_answer_source WHERE ?1 = '' OR sweep = ?1"
                   " ORDER BY sweep, model, task, method, turns"));
  stmt.Bind(1, sweep);
  std::vector<AnswerSourceRow> out;
  while (true) {
    CS_ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) return out;
    out.push_back({stmt.Text(0), stmt.Text(1), stmt.Text(2), stmt.Text(3),
                   static_cast<int>(stmt.Int(4)), stmt.Int(5), stmt.Int(6), stmt.Int(7),
                   stmt.Int(8), stmt.Int(9)});
  }
}

Result<std::vector<JobStateRow>> ReportDb::JobStates(const std::string& sweep) {
  CS_ASSIGN_OR_RETURN(
      Stmt stmt,
      db_->Prepare("SELECT sweep, model, method, turns, total, pending, leased, done, failed, dead,"
                   " coalesce(top_error, '') FROM v_jobs_state WHERE ?1 = '' OR sweep = ?1"
                   " ORDER BY sweep, model, method, turns"));
  stmt.Bind(1, sweep);
  std::vector<JobStateRow> out;
  while (true) {
    CS_ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) return out;
    out.push_back({stmt.Text(0), stmt.Text(1), stmt.Text(2), static_cast<int>(stmt.Int(3)),
                   stmt.Int(4), stmt.Int(5), stmt.Int(6), stmt.Int(7), stmt.Int(8), stmt.Int(9),
                   stmt.Text(10)});
  }
}

Result<std::vector<ModelCostRow>> ReportDb::ModelCost(const std::string& sweep) {
  CS_ASSIGN_OR_RETURN(
      Stmt stmt, db_->Prepare("SELECT sweep, model, calls, cached, errors, tokens_in, tokens_out,"
                              " cost_usd, rate_limited, retries, replayed_tokens_in,"
                              " replayed_tokens_out FROM v_model_cost"
                              " WHERE ?1 = '' OR sweep = ?1 ORDER BY sweep, model"));
  stmt.Bind(1, sweep);
  std::vector<ModelCostRow> out;
  while (true) {
    CS_ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) return out;
    ModelCostRow m;
    m.sweep = stmt.Text(0);
    m.model = stmt.Text(1);
    m.calls = stmt.Int(2);
    m.cached = stmt.Int(3);
    m.errors = stmt.Int(4);
    m.tokens_in = stmt.Int(5);
    m.tokens_out = stmt.Int(6);
    m.cost_usd = stmt.Double(7);
    m.rate_limited = stmt.Int(8);
    m.retries = stmt.Int(9);
    m.replayed_tokens_in = stmt.Int(10);
    m.replayed_tokens_out = stmt.Int(11);
    out.push_back(std::move(m));
  }
}

Result<QueryTable> ReportDb::Query(const std::string& sql) {
  sqlite3_stmt* raw = nullptr;
  int rc = sqlite3_prepare_v2(db_->raw(), sql.c_str(), -1, &raw, nullptr);
  if (rc != SQLITE_OK) return store_internal::SqliteStatus(db_->raw(), rc, "prepare query");
  std::unique_ptr<sqlite3_stmt, int (*)(sqlite3_stmt*)> stmt(raw, sqlite3_finalize);
  QueryTable out;
  const int cols = sqlite3_column_count(raw);
  for (int c = 0; c < cols; ++c) out.columns.push_back(sqlite3_column_name(raw, c));
  while ((rc = sqlite3_step(raw)) == SQLITE_ROW) {
    std::vector<std::optional<std::string>> row;
    for (int c = 0; c < cols; ++c) row.push_back(ColumnText(raw, c));
    out.rows.push_back(std::move(row));
  }
  if (rc != SQLITE_DONE) return store_internal::SqliteStatus(db_->raw(), rc, "query");
  return out;
}

Result<std::vector<int64_t>> ReportDb::FindJobs(const std::string& cell, int limit) {
  std::vector<int64_t> out;
  unsigned char raw[32];
  if (store_internal::HexToBytes32(cell, raw)) {
    CS_ASSIGN_OR_RETURN(Stmt stmt, db_->Prepare("SELECT id FROM jobs WHERE cell_key = ?1"));
    stmt.BindBlob(1, raw, 32);
    CS_ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (row) out.push_back(stmt.Int(0));
    return out;
  }
  if (IsDigits(cell)) {
    CS_ASSIGN_OR_RETURN(Stmt stmt, db_->Prepare("SELECT id FROM jobs WHERE id = ?1"));
    stmt.Bind(1, static_cast<int64_t>(std::stoll(cell)));
    CS_ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (row) return std::vector<int64_t>{stmt.Int(0)};
  }
  if (cell.empty()) return out;
  // A prefix of a hex key (or a whole non-hex test key): one pass over the keys.
  CS_ASSIGN_OR_RETURN(
      Stmt stmt,
      db_->Prepare("SELECT id FROM jobs WHERE CASE typeof(cell_key) WHEN 'blob'"
                   " THEN substr(lower(hex(cell_key)), 1, length(?1)) = lower(?1)"
                   " ELSE substr(cell_key, 1, length(?1)) = ?1 END ORDER BY id LIMIT ?2"));
  stmt.Bind(1, cell).Bind(2, limit);
  while (true) {
    CS_ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) return out;
    out.push_back(stmt.Int(0));
  }
}

Result<Trajectory> ReportDb::LoadTrajectory(int64_t job_id) {
  CS_ASSIGN_OR_RETURN(
      Stmt stmt,
      db_->Prepare("SELECT j.id, CASE typeof(j.cell_key) WHEN 'blob' THEN lower(hex(j.cell_key))"
                   " ELSE j.cell_key END, s.name, j.task, j.complexity, v.model, j.method,"
                   " j.state, j.last_error, j.sample, j.turns, j.attempts"
                   " FROM jobs j JOIN sweeps s ON s.id = j.sweep_id"
                   " JOIN variants v ON v.id = j.variant_id WHERE j.id = ?1"));
  stmt.Bind(1, job_id);
  CS_ASSIGN_OR_RETURN(bool row, stmt.Step());
  if (!row) return Status::NotFound("no job " + std::to_string(job_id));
  Trajectory t;
  t.job_id = stmt.Int(0);
  t.cell_key = stmt.Text(1);
  t.sweep = stmt.Text(2);
  t.task = stmt.Text(3);
  t.complexity = stmt.Text(4);
  t.model = stmt.Text(5);
  t.method = stmt.Text(6);
  t.state = stmt.Text(7);
  t.last_error = stmt.Text(8);
  t.sample = stmt.Int(9);
  t.turns = static_cast<int>(stmt.Int(10));
  t.attempts_made = static_cast<int>(stmt.Int(11));
  CS_RETURN_IF_ERROR(LoadAttemptsAndVerdict(t));
  CS_RETURN_IF_ERROR(LoadCalls(t));
  CS_RETURN_IF_ERROR(LoadExecutions(t));
  return t;
}

Status ReportDb::LoadAttemptsAndVerdict(Trajectory& t) {
  {
    CS_ASSIGN_OR_RETURN(Stmt stmt,
                        db_->Prepare("SELECT lease_token, attempt, worker, coalesce(outcome, ''),"
                                     " error, started_ms, coalesce(ended_ms, 0) FROM attempts"
                                     " WHERE job_id = ?1 ORDER BY lease_token"));
    stmt.Bind(1, t.job_id);
    while (true) {
      CS_ASSIGN_OR_RETURN(bool row, stmt.Step());
      if (!row) break;
      t.attempts.push_back({stmt.Int(0), static_cast<int>(stmt.Int(1)), stmt.Text(2), stmt.Text(3),
                            stmt.Text(4), stmt.Int(5), stmt.Int(6)});
    }
  }
  CS_ASSIGN_OR_RETURN(
      Stmt stmt,
      db_->Prepare("SELECT lease_token, final_answer, passed_by, verdict_reason, extra_json,"
                   " correct, code_used, code_ok, score, cost_usd, turns_used, tokens_in,"
                   " tokens_out, wall_ms FROM results WHERE job_id = ?1"));
  stmt.Bind(1, t.job_id);
  CS_ASSIGN_OR_RETURN(bool row, stmt.Step());
  if (!row) return Status::OK();
  TrajectoryVerdict v;
  v.lease = stmt.Int(0);
  v.final_answer = stmt.Text(1);
  v.passed_by = stmt.Text(2);
  v.verdict_reason = stmt.Text(3);
  v.extra_json = stmt.Text(4);
  v.correct = stmt.Int(5) != 0;
  v.code_used = stmt.Int(6) != 0;
  v.code_ok = stmt.Int(7) != 0;
  v.score = stmt.Double(8);
  v.cost_usd = stmt.Double(9);
  v.turns_used = static_cast<int>(stmt.Int(10));
  v.tokens_in = stmt.Int(11);
  v.tokens_out = stmt.Int(12);
  v.wall_ms = stmt.Int(13);
  t.verdict = std::move(v);
  return Status::OK();
}

Status ReportDb::LoadCalls(Trajectory& t) {
  CS_ASSIGN_OR_RETURN(
      Stmt stmt,
      db_->Prepare("SELECT lease_token, idx, turn, request_json, response_json, error, tokens_in,"
                   " tokens_out, latency_ms, http_status, attempts, rate_limited, cost_usd,"
                   " cached FROM calls WHERE job_id = ?1 ORDER BY lease_token, idx"));
  stmt.Bind(1, t.job_id);
  while (true) {
    CS_ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) return Status::OK();
    TrajectoryCall c;
    c.lease = stmt.Int(0);
    c.index = static_cast<int>(stmt.Int(1));
    c.turn = static_cast<int>(stmt.Int(2));
    c.request_json = stmt.Text(3);
    c.response_json = stmt.Text(4);
    c.error = stmt.Text(5);
    c.tokens_in = stmt.Int(6);
    c.tokens_out = stmt.Int(7);
    c.latency_ms = stmt.Int(8);
    c.http_status = static_cast<int>(stmt.Int(9));
    c.attempts = static_cast<int>(stmt.Int(10));
    c.rate_limited = static_cast<int>(stmt.Int(11));
    c.cost_usd = stmt.Double(12);
    c.cached = stmt.Int(13) != 0;
    t.calls.push_back(std::move(c));
  }
}

Status ReportDb::LoadExecutions(Trajectory& t) {
  CS_ASSIGN_OR_RETURN(
      Stmt stmt,
      db_->Prepare("SELECT lease_token, idx, turn, code, status, stdout_text, stderr_text, tier,"
                   " exit_code, signal, wall_ms, cpu_ms, peak_rss_kb, stdout_truncated,"
                   " stderr_truncated FROM executions WHERE job_id = ?1"
                   " ORDER BY lease_token, idx"));
  stmt.Bind(1, t.job_id);
  while (true) {
    CS_ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) return Status::OK();
    TrajectoryExecution e;
    e.lease = stmt.Int(0);
    e.index = static_cast<int>(stmt.Int(1));
    e.turn = static_cast<int>(stmt.Int(2));
    e.code = stmt.Text(3);
    e.status = stmt.Text(4);
    e.stdout_text = stmt.Text(5);
    e.stderr_text = stmt.Text(6);
    e.tier = stmt.Text(7);
    e.exit_code = static_cast<int>(stmt.Int(8));
    e.signal = static_cast<int>(stmt.Int(9));
    e.wall_ms = stmt.Int(10);
    e.cpu_ms = stmt.Int(11);
    e.peak_rss_kb = stmt.Int(12);
    e.stdout_truncated = stmt.Int(13) != 0;
    e.stderr_truncated = stmt.Int(14) != 0;
    t.executions.push_back(std::move(e));
  }
}

}  // namespace codesweep
