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

// The words of each full-text index (0013_view_newtable.sql) as TEMP fts5vocab tables,
// reply_search_vocab and answer_search_vocab: `codesweep view` turns the last word of a search
// into the indexed words that begin with it (docs/view.md). Made before the connection turns
// query_only, which forbids them; absent when the database has no such index.
Status AddSearchVocab(StoreDb& db) {
  for (const char* table : {"reply_search", "answer_search"}) {
    CS_ASSIGN_OR_RETURN(Stmt found, db.Prepare("SELECT 1 FROM sqlite_master WHERE type = 'table'"
                                               " AND name = ?1"));
    found.Bind(1, std::string(table));
    CS_ASSIGN_OR_RETURN(bool exists, found.Step());
    if (!exists) continue;
    CS_RETURN_IF_ERROR(db.Exec(std::string("CREATE VIRTUAL TABLE temp.") + table +
                               "_vocab USING fts5vocab('main', '" + table + "', 'row')"));
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

// The expected answer of a result row r: the "target" its runner recorded in extra_json.
constexpr const char* kTargetSql =
    "coalesce(CASE WHEN json_valid(r.extra_json) THEN"
    " CAST(json_extract(r.extra_json, '$.target') AS TEXT) END, '')";

bool IsDigits(std::string_view s) {
  if (s.empty() || s.size() > 18) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

// The filter clauses over jobs j and variants v, with the task, model and method lists in ?2..?4.
std::string FilterClauses() {
  return SqlListClause(2, "j.task") + " AND (" + SqlListClause(3, "v.model") + " OR " +
         SqlListClause(3, "v.model_name") + ") AND " + SqlListClause(4, "j.method");
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
  CS_RETURN_IF_ERROR(AddSearchVocab(*db));
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

// Draws (finished jobs with a result) grouped by instance; an instance's majority answer is its
// most frequent final answer (ties: the one drawn first, by job id), correct if its draws were.
// Reads no jobs.epoch: a database without that column (not yet migrated) reports the same.
Result<std::vector<RepeatRow>> ReportDb::Repeats(const std::string& sweep) {
  CS_ASSIGN_OR_RETURN(
      Stmt stmt,
      db_->Prepare(
          "WITH d AS ("
          "  SELECT j.sweep_id, j.variant_id, j.task, j.complexity, j.sample, j.method, j.turns,"
          "         j.id, r.correct, r.final_answer"
          "  FROM jobs j JOIN results r ON r.job_id = j.id JOIN sweeps s ON s.id = j.sweep_id"
          "  WHERE j.state = 'done' AND (?1 = '' OR s.name = ?1)"
          "), i AS ("
          "  SELECT sweep_id, variant_id, task, complexity, sample, method, turns,"
          "         count(*) AS draws, sum(correct) AS correct, max(correct) AS any_ok"
          "  FROM d GROUP BY sweep_id, variant_id, task, complexity, sample, method, turns"
          "), a AS ("
          "  SELECT sweep_id, variant_id, task, complexity, sample, method, turns, final_answer,"
          "         max(correct) AS ok, row_number() OVER (PARTITION BY sweep_id, variant_id,"
          "         task, complexity, sample, method, turns ORDER BY count(*) DESC, min(id))"
          "         AS rk"
          "  FROM d GROUP BY sweep_id, variant_id, task, complexity, sample, method, turns,"
          "         final_answer"
          ")"
          " SELECT s.name, i.task, st.model, i.method, i.turns, count(*), sum(i.draws),"
          "        sum(i.correct), max(i.draws), sum(i.any_ok), sum(a.ok)"
          " FROM i JOIN a ON a.sweep_id = i.sweep_id AND a.variant_id = i.variant_id"
          "   AND a.task = i.task AND a.complexity = i.complexity AND a.sample = i.sample"
          "   AND a.method = i.method AND a.turns = i.turns AND a.rk = 1"
          " JOIN sweeps s ON s.id = i.sweep_id"
          " JOIN v_setting st ON st.sweep_id = i.sweep_id AND st.variant_id = i.variant_id"
          " GROUP BY i.sweep_id, i.task, st.model, i.method, i.turns HAVING max(i.draws) > 1"
          " ORDER BY s.name, i.task, st.model, i.method, i.turns"));
  stmt.Bind(1, sweep);
  std::vector<RepeatRow> out;
  while (true) {
    CS_ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) return out;
    RepeatRow r;
    r.sweep = stmt.Text(0);
    r.task = stmt.Text(1);
    r.model = stmt.Text(2);
    r.method = stmt.Text(3);
    r.turns = static_cast<int>(stmt.Int(4));
    r.instances = stmt.Int(5);
    r.draws = stmt.Int(6);
    r.correct = stmt.Int(7);
    r.max_draws = stmt.Int(8);
    r.any_correct = stmt.Int(9);
    r.majority_correct = stmt.Int(10);
    out.push_back(std::move(r));
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

namespace {

void BindValue(sqlite3_stmt* stmt, int i, const QueryValue& v) {
  if (const auto* n = std::get_if<int64_t>(&v)) {
    sqlite3_bind_int64(stmt, i, *n);
  } else if (const auto* d = std::get_if<double>(&v)) {
    sqlite3_bind_double(stmt, i, *d);
  } else if (const auto* t = std::get_if<std::string>(&v)) {
    sqlite3_bind_text(stmt, i, t->data(), static_cast<int>(t->size()), SQLITE_TRANSIENT);
  } else {
    sqlite3_bind_null(stmt, i);
  }
}

QueryValue ColumnValue(sqlite3_stmt* stmt, int col) {
  switch (sqlite3_column_type(stmt, col)) {
    case SQLITE_NULL:
      return std::monostate();
    case SQLITE_INTEGER:
      return static_cast<int64_t>(sqlite3_column_int64(stmt, col));
    case SQLITE_FLOAT:
      return sqlite3_column_double(stmt, col);
    default:
      return *ColumnText(stmt, col);
  }
}

}  // namespace

Result<QueryRows> ReportDb::QueryRowsOf(const std::string& sql,
                                        const std::vector<QueryValue>& params) {
  sqlite3_stmt* raw = nullptr;
  int rc = sqlite3_prepare_v2(db_->raw(), sql.c_str(), -1, &raw, nullptr);
  if (rc != SQLITE_OK) return store_internal::SqliteStatus(db_->raw(), rc, "prepare query");
  std::unique_ptr<sqlite3_stmt, int (*)(sqlite3_stmt*)> stmt(raw, sqlite3_finalize);
  for (size_t i = 0; i < params.size(); ++i) BindValue(raw, static_cast<int>(i) + 1, params[i]);
  QueryRows out;
  const int cols = sqlite3_column_count(raw);
  for (int c = 0; c < cols; ++c) out.columns.push_back(sqlite3_column_name(raw, c));
  while ((rc = sqlite3_step(raw)) == SQLITE_ROW) {
    std::vector<QueryValue> row;
    row.reserve(cols);
    for (int c = 0; c < cols; ++c) row.push_back(ColumnValue(raw, c));
    out.rows.push_back(std::move(row));
  }
  if (rc != SQLITE_DONE) return store_internal::SqliteStatus(db_->raw(), rc, "query");
  return out;
}

Result<std::vector<int64_t>> ReportDb::FindJobs(const std::string& cell, int limit,
                                                const ReadFilter& filter) {
  if (!filter.empty()) return FindFilteredJobs(cell, limit, filter);
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

Result<std::vector<int64_t>> ReportDb::FindFilteredJobs(const std::string& cell, int limit,
                                                        const ReadFilter& filter) {
  // Built once: the statement cache is keyed by the SQL's address.
  static const std::string sql =
      "SELECT j.id FROM jobs j JOIN variants v ON v.id = j.variant_id"
      " WHERE (?1 = '' OR (?5 AND j.id = ?6) OR CASE typeof(j.cell_key)"
      " WHEN 'blob' THEN substr(lower(hex(j.cell_key)), 1, length(?1)) = lower(?1)"
      " ELSE substr(j.cell_key, 1, length(?1)) = ?1 END) AND " +
      FilterClauses() + " ORDER BY j.id LIMIT ?7";
  CS_ASSIGN_OR_RETURN(Stmt stmt, db_->Prepare(sql.c_str()));
  const bool digits = IsDigits(cell);
  stmt.Bind(1, cell)
      .Bind(2, filter.task)
      .Bind(3, filter.model)
      .Bind(4, filter.method)
      .Bind(5, static_cast<int64_t>(digits))
      .Bind(6, digits ? static_cast<int64_t>(std::stoll(cell)) : int64_t{0})
      .Bind(7, limit);
  std::vector<int64_t> out;
  while (true) {
    CS_ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) return out;
    out.push_back(stmt.Int(0));
  }
}

Result<std::vector<BatchCostRow>> ReportDb::BatchCosts(const std::string& sweep) {
  CS_ASSIGN_OR_RETURN(bool has_batches, HasTable("batches"));
  std::vector<BatchCostRow> out;
  if (!has_batches) return out;
  CS_ASSIGN_OR_RETURN(
      Stmt stmt,
      db_->Prepare("SELECT s.name, b.provider || ':' || b.model, count(*), sum(b.n_requests),"
                   " sum(b.n_done), sum(b.cost_usd), sum(b.sync_cost_usd)"
                   " FROM batches b JOIN sweeps s ON s.id = b.sweep_id"
                   " WHERE b.provider_id <> '' AND (?1 = '' OR s.name = ?1)"
                   " GROUP BY s.name, b.provider, b.model ORDER BY s.name, b.provider, b.model"));
  stmt.Bind(1, sweep);
  while (true) {
    CS_ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) return out;
    BatchCostRow r;
    r.sweep = stmt.Text(0);
    r.model = stmt.Text(1);
    r.batches = stmt.Int(2);
    r.requests = stmt.Int(3);
    r.answered = stmt.Int(4);
    r.cost_usd = stmt.Double(5);
    r.sync_cost_usd = stmt.Double(6);
    out.push_back(std::move(r));
  }
}

Result<bool> ReportDb::HasTable(const std::string& name) {
  CS_ASSIGN_OR_RETURN(
      Stmt stmt, db_->Prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1"));
  stmt.Bind(1, name);
  return stmt.Step();
}

Result<std::vector<RunRow>> ReportDb::LatestRuns() {
  std::vector<RunRow> out;
  CS_ASSIGN_OR_RETURN(bool has_runs, HasTable("runs"));
  if (!has_runs) return out;
  CS_ASSIGN_OR_RETURN(
      Stmt stmt,
      db_->Prepare("SELECT s.name, r.command, r.version, r.git_commit, r.sweep_sha256, r.host,"
                   " r.pid, r.started_ms, (SELECT count(*) FROM runs c WHERE c.sweep_id = s.id)"
                   " FROM sweeps s JOIN runs r ON r.id ="
                   " (SELECT max(id) FROM runs m WHERE m.sweep_id = s.id) ORDER BY s.id"));
  while (true) {
    CS_ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) return out;
    out.push_back({stmt.Text(0), stmt.Text(1), stmt.Text(2), stmt.Text(3), stmt.Text(4),
                   stmt.Text(5), stmt.Int(6), stmt.Int(7), stmt.Int(8)});
  }
}

Status ReportDb::ForEachCell(const std::string& sweep, const ReadFilter& filter,
                             const std::function<Status(const ExportRow&)>& fn) {
  static const std::string sql =
      "SELECT j.id, CASE typeof(j.cell_key) WHEN 'blob' THEN lower(hex(j.cell_key))"
      " ELSE j.cell_key END, s.name, j.task, j.complexity, j.sample, v.model, j.method,"
      " j.turns, j.state, j.attempts, j.last_error, r.job_id IS NOT NULL,"
      " coalesce(r.final_answer, ''), " +
      std::string(kTargetSql) +
      ", coalesce(r.passed_by, ''), coalesce(r.verdict_reason, ''),"
      " coalesce(r.correct, 0), coalesce(r.score, 0), coalesce(r.code_used, 0),"
      " coalesce(r.code_ok, 0), coalesce(r.turns_used, 0), coalesce(r.n_calls, 0),"
      " coalesce(r.n_executions, 0), coalesce(r.tokens_in, 0), coalesce(r.tokens_out, 0),"
      " coalesce(r.cost_usd, 0), coalesce(r.wall_ms, 0), coalesce(r.finished_ms, 0)"
      " FROM jobs j JOIN sweeps s ON s.id = j.sweep_id JOIN variants v ON v.id = j.variant_id"
      " LEFT JOIN results r ON r.job_id = j.id"
      " WHERE (?1 = '' OR s.name = ?1) AND " +
      FilterClauses() + " ORDER BY j.id";
  CS_ASSIGN_OR_RETURN(Stmt stmt, db_->Prepare(sql.c_str()));
  stmt.Bind(1, sweep).Bind(2, filter.task).Bind(3, filter.model).Bind(4, filter.method);
  while (true) {
    CS_ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) return Status::OK();
    ExportRow e;
    e.job_id = stmt.Int(0);
    e.cell_key = stmt.Text(1);
    e.sweep = stmt.Text(2);
    e.task = stmt.Text(3);
    e.complexity = stmt.Text(4);
    e.sample = stmt.Int(5);
    e.model = stmt.Text(6);
    e.method = stmt.Text(7);
    e.turns = static_cast<int>(stmt.Int(8));
    e.state = stmt.Text(9);
    e.attempts = stmt.Int(10);
    e.last_error = stmt.Text(11);
    e.has_result = stmt.Int(12) != 0;
    e.final_answer = stmt.Text(13);
    e.target = stmt.Text(14);
    e.passed_by = stmt.Text(15);
    e.verdict_reason = stmt.Text(16);
    e.correct = stmt.Int(17) != 0;
    e.score = stmt.Double(18);
    e.code_used = stmt.Int(19) != 0;
    e.code_ok = stmt.Int(20) != 0;
    e.turns_used = stmt.Int(21);
    e.calls = stmt.Int(22);
    e.executions = stmt.Int(23);
    e.tokens_in = stmt.Int(24);
    e.tokens_out = stmt.Int(25);
    e.cost_usd = stmt.Double(26);
    e.wall_ms = stmt.Int(27);
    e.finished_ms = stmt.Int(28);
    CS_RETURN_IF_ERROR(fn(e));
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
  static const std::string sql =
      "SELECT lease_token, final_answer, passed_by, verdict_reason, extra_json, correct,"
      " code_used, code_ok, score, cost_usd, turns_used, tokens_in, tokens_out, wall_ms, " +
      std::string(kTargetSql) + " FROM results r WHERE job_id = ?1";
  CS_ASSIGN_OR_RETURN(Stmt stmt, db_->Prepare(sql.c_str()));
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
  v.target = stmt.Text(14);
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
