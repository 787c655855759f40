// Store::Impl: the state behind a Store (private to coordinator/store*.cc). It holds the
// connection, the in-memory lease-token counter (persisted to meta on Commit) and the helpers
// that make every mutating call one atomic step inside the open group-commit transaction.
// Used from the one thread that owns the Store.
#pragma once

#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "coordinator/store/sqlite_db.h"
#include "coordinator/store/store.h"

namespace codesweep {

// The job columns in the order ReadJobRow expects (a macro so SQL stays one string literal,
// which the statement cache keys on).
#define CS_JOB_COLS                                                                      \
  "id, cell_key, sweep_id, task, complexity, sample, variant_id, method, turns, state, " \
  "attempts, lease_token, worker, lease_until_ms, not_before_ms, epoch, method_template_id"

struct Store::Impl {
  std::unique_ptr<store_internal::StoreDb> db;
  // SQL built at run time (scoped queries), kept here because the statement cache is keyed by
  // the text's address: a std::set never moves its elements.
  std::set<std::string> built_sql;
  const char* BuiltSql(std::string sql) { return built_sql.insert(std::move(sql)).first->c_str(); }
  StoreOptions options;
  int64_t next_lease = 1;            // next lease token to hand out
  int64_t persisted_next_lease = 1;  // what meta holds (as of the last commit)
  // Set when SQLite rolled the group transaction back by itself (disk full, IO error): the next
  // Commit() reports it so that no ACK is sent for writes that are gone.
  Status lost_writes;
  // While a grid insert is open the page cache is enlarged (random cell-key index inserts need
  // it); Commit() shrinks it back.
  bool bulk_cache = false;
  // While a grid load into an empty jobs table is open (BeginCellLoad): the jobs indexes it
  // dropped (name, CREATE INDEX statement), rebuilt by FinishCellLoad or before any commit.
  std::vector<std::pair<std::string, std::string>> deferred_job_indexes;
  // The database has the full-text indexes and their backlog (migrations 0013 and 0022): every
  // commit indexes the calls and results written since the last one (IndexSearchBacklog).
  bool search_backlog = false;
  // Frames in the write-ahead log after the last commit (the WAL hook, Store::Open): the WAL is
  // checkpointed by the commit that takes it to kWalCheckpointFrames, as SQLite's automatic
  // checkpoint would, or earlier, between the coordinator's loop turns (CheckpointIfDue).
  int wal_frames = 0;
  // The WAL hook: SQLite's automatic checkpoint rule (which a hook turns off) plus the count.
  static int WalHook(void* impl, sqlite3* db, const char* name, int frames);

  Status RequireWritable() const;
  // Ensures the group transaction is open (BEGIN IMMEDIATE on the first write).
  Status BeginWrite();
  // Runs `body` as one atomic step (a SAVEPOINT) inside the group transaction. On error the
  // step is undone and the rest of the group is kept (or, if SQLite dropped the whole
  // transaction, lost_writes is set).
  template <typename Fn>
  auto Atomic(Fn&& body) -> decltype(body());

  Status CommitNow();
  Status EnterBulkCache();
  // Builds the deferred jobs indexes; returns how many duplicate cells it removed first.
  Result<int64_t> BuildDeferredJobIndexes();
  // Adds the replies and final answers not indexed yet to reply_search and answer_search, one
  // statement each (0022_view_search_newtable.sql), inside the open transaction.
  Status IndexSearchBacklog();
  Status LoadLeaseCounter();
  static int64_t WallMs();
};

// A migration whose file name ends in "_index.sql" changes only indexes and constraints; one
// ending in "_writer.sql" adds only columns that read-only code does not need (it reads them, if
// at all, where it tolerates their absence); one ending in "_newtable.sql" only adds tables, which
// readers look for before they read them (ReportDb::Runs). A read-only connection to a database
// that lacks any of them sees what it reads, so read-only tools may skip them (the next writer
// applies them).
inline bool MigrationInvisibleToReaders(std::string_view name) {
  // *_column.sql: adds columns (with defaults) that no read-only query reads.
  return name.ends_with("_index.sql") || name.ends_with("_writer.sql") ||
         name.ends_with("_newtable.sql") || name.ends_with("_column.sql");
}

// A ReadFilter field as SQL: true when parameter ?`param` is empty or lists `column`'s value
// among its comma-separated items.
inline std::string SqlListClause(int param, const std::string& column) {
  const std::string p = "?" + std::to_string(param);
  return "(" + p + " = '' OR instr(',' || " + p + " || ',', ',' || " + column + " || ',') > 0)";
}

// The jobs indexes that only the report views read (jobs_report: the views' group order). A grid
// load into an empty table builds them when the sweep has finished, not with the load, so that
// dispatch starts sooner; the reports work without them meanwhile, only slower. Their CREATE
// statements wait in meta under kLaterIndexPrefix + name (Store::BuildReportIndexes).
inline bool IsReportOnlyIndex(std::string_view name) {
  return name == "jobs_report" || name == "jobs_view_pair";  // jobs_view_pair: codesweep view
}
inline constexpr std::string_view kLaterIndexPrefix = "later_index/";

// Batch mode: a parked cell's executions as JSON and back (coordinator/store/batches.cc).
Result<std::string> ExecutionsToJson(const std::vector<ExecutionRecord>& executions);
Result<std::vector<ExecutionRecord>> ExecutionsFromJson(const std::string& json);

// Reads the CS_JOB_COLS columns of the current row.
JobRow ReadJobRow(const store_internal::Stmt& stmt);
// Binds a cell key: 32 raw bytes for a lower-case hex SHA-256, else the text itself.
void BindCellKey(store_internal::Stmt& stmt, int index, const CellKey& cell);

Status SavepointBegin(store_internal::StoreDb& db);
Status SavepointRelease(store_internal::StoreDb& db);
void SavepointRollback(store_internal::StoreDb& db);

inline const Status& StatusOf(const Status& s) { return s; }
template <typename T>
const Status& StatusOf(const Result<T>& r) {
  return r.status();
}

template <typename Fn>
auto Store::Impl::Atomic(Fn&& body) -> decltype(body()) {
  CS_RETURN_IF_ERROR(BeginWrite());
  CS_RETURN_IF_ERROR(SavepointBegin(*db));
  auto result = body();
  if (result.ok()) {
    Status s = SavepointRelease(*db);
    if (s.ok()) return result;
    result = std::move(s);
  }
  SavepointRollback(*db);
  db->SyncTransactionState();
  if (!db->in_transaction() && lost_writes.ok()) {
    lost_writes = StatusOf(result).WithContext("write transaction rolled back");
  }
  return result;
}

}  // namespace codesweep
