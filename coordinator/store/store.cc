// Store: opening, migrations, group commit and shared helpers. The other parts live in
// store_grid.cc (sweeps, variants, cells), store_dispatch.cc (leases and completion) and
// store_read.cc (workers, call cache, status).
#include "coordinator/store/store.h"

#include <malloc.h>

#include <chrono>
#include <string>
#include <vector>

#include "coordinator/store/sqlite_db.h"
#include "coordinator/store/store_impl.h"
#include "coordinator/store/store_sql.h"

namespace codesweep {

using store_internal::Stmt;
using store_internal::StoreDb;

namespace {

constexpr int64_t kCacheKiB = 16 * 1024;       // steady-state page cache
constexpr int64_t kBulkCacheKiB = 128 * 1024;  // while grid inserts are pending

std::string CacheSizePragma(int64_t kib) { return "PRAGMA cache_size = -" + std::to_string(kib); }

Result<int> ReadUserVersion(StoreDb& db) {
  CS_ASSIGN_OR_RETURN(Stmt stmt, db.Prepare("PRAGMA user_version"));
  CS_ASSIGN_OR_RETURN(bool row, stmt.Step());
  if (!row) return Status::Internal("PRAGMA user_version returned no row");
  return static_cast<int>(stmt.Int(0));
}

Result<bool> HasAnyTable(StoreDb& db) {
  CS_ASSIGN_OR_RETURN(Stmt stmt, db.Prepare("SELECT 1 FROM sqlite_master LIMIT 1"));
  return stmt.Step();
}

Status CheckVersion(int version, const std::string& path) {
  if (version > Store::LatestSchemaVersion()) {
    return Status::FailedPrecondition(
        path + ": database schema version " + std::to_string(version) +
        " is newer than this codesweep binary supports (" +
        std::to_string(Store::LatestSchemaVersion()) + "); use a newer codesweep");
  }
  return Status::OK();
}

// Fails if any foreign key of the database points nowhere.
Status CheckForeignKeys(StoreDb& db) {
  CS_ASSIGN_OR_RETURN(Stmt stmt, db.Prepare("PRAGMA foreign_key_check"));
  CS_ASSIGN_OR_RETURN(bool row, stmt.Step());
  if (row) return Status::Corruption("foreign key check failed in table " + stmt.Text(0));
  return Status::OK();
}

// Puts the database path in front of `s` unless SQLite's message names the file already.
Status NamePath(const Status& s, const std::string& path) {
  std::string base = path.substr(path.find_last_of('/') + 1);
  if (s.ok() || s.message().find(base) != std::string::npos) return s;
  return s.WithContext(path);
}

// Applies the migrations of one version (a schema/sql file and its report/sql views file share
// a number), or of every version of a new database, in one transaction (a no-op if another
// process got there first).
Status ApplyMigration(StoreDb& db, const std::vector<const store_sql::Migration*>& group) {
  CS_RETURN_IF_ERROR(db.Begin());
  Result<int> version = ReadUserVersion(db);  // re-read under the write lock
  Status s = version.status();
  if (s.ok() && *version < group.front()->version) {
    for (const store_sql::Migration* m : group) {
      if (s.ok()) s = db.Exec(m->sql).WithContext(std::string("migration ") + m->name);
      if (s.ok()) s = CheckForeignKeys(db).WithContext(std::string("migration ") + m->name);
    }
    if (s.ok()) s = db.Exec("PRAGMA user_version = " + std::to_string(group.back()->version));
  }
  if (s.ok()) s = db.Commit();
  if (!s.ok()) db.Rollback();
  return s;
}

// Applies each migration version newer than the database, one transaction per version; a new
// database (version 0) gets them all in one transaction, so creating it costs one commit (one
// WAL fsync with synchronous=FULL) instead of one per version, and it is either complete or
// empty. A migration may rebuild a table (SQLite's documented procedure: create, copy, drop,
// rename), so foreign keys are off and legacy_alter_table is on while they run (the rename then
// leaves the views that name the table alone), and each migration checks the foreign keys itself.
Status Migrate(StoreDb& db, int current, const std::string& path) {
  if (current >= Store::LatestSchemaVersion()) return Status::OK();
  CS_RETURN_IF_ERROR(db.Exec("PRAGMA foreign_keys = OFF; PRAGMA legacy_alter_table = ON"));
  Status s;
  std::vector<const store_sql::Migration*> group;  // kMigrations is in version order
  for (const store_sql::Migration& m : store_sql::kMigrations) {
    if (m.version <= current) continue;
    if (current > 0 && !group.empty() && group.front()->version != m.version) {
      if (s.ok()) s = ApplyMigration(db, group);
      group.clear();
    }
    group.push_back(&m);
  }
  if (!group.empty() && s.ok()) s = ApplyMigration(db, group);
  Status restore = db.Exec("PRAGMA legacy_alter_table = OFF; PRAGMA foreign_keys = ON");
  if (s.ok()) s = restore;
  return NamePath(s, path);
}

// SQLite's automatic checkpoint threshold (its default), and from how many frames the
// coordinator checkpoints between loop turns so that the commit on a job's way does not.
constexpr int kWalCheckpointFrames = 1000;
// 900, not lower: each early checkpoint restarts the log, so a lower mark would checkpoint (and
// fsync the database) more often under a steady stream of results.
constexpr int kWalEarlyCheckpointFrames = 900;

Status ConfigureConnection(StoreDb& db, const StoreOptions& options) {
  CS_RETURN_IF_ERROR(db.Exec("PRAGMA busy_timeout = " + std::to_string(options.busy_timeout_ms)));
  if (options.read_only) return db.Exec("PRAGMA query_only = 1");
  {
    CS_ASSIGN_OR_RETURN(Stmt stmt, db.Prepare("PRAGMA journal_mode = WAL"));
    CS_ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row || stmt.Text(0) != "wal") {
      return Status::IoError("could not switch the database to WAL journal mode");
    }
  }
  CS_RETURN_IF_ERROR(db.Exec(options.synchronous_full ? "PRAGMA synchronous = FULL"
                                                      : "PRAGMA synchronous = NORMAL"));
  CS_RETURN_IF_ERROR(db.Exec(CacheSizePragma(kCacheKiB)));
  return db.Exec("PRAGMA foreign_keys = ON");
}

}  // namespace

// ---- Impl helpers ----

int Store::Impl::WalHook(void* arg, sqlite3* db, const char* name, int frames) {
  auto* impl = static_cast<Store::Impl*>(arg);
  impl->wal_frames = frames;
  if (frames >= kWalCheckpointFrames) {
    (void)sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
    impl->wal_frames = 0;
  }
  return SQLITE_OK;
}

Status Store::Impl::RequireWritable() const {
  if (options.read_only) return Status::FailedPrecondition("store is open read-only");
  return Status::OK();
}

Status Store::Impl::BeginWrite() {
  CS_RETURN_IF_ERROR(RequireWritable());
  return db->Begin();
}

int64_t Store::Impl::WallMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Status Store::Impl::LoadLeaseCounter() {
  CS_ASSIGN_OR_RETURN(
      Stmt stmt,
      // Every lease has its attempts row (same step), whose key is the token: O(log n).
      db->Prepare("SELECT max(coalesce((SELECT value FROM meta WHERE key = 'next_lease_token'), 1),"
                  " coalesce((SELECT max(lease_token) FROM attempts), 0) + 1)"));
  CS_ASSIGN_OR_RETURN(bool row, stmt.Step());
  if (!row) return Status::Internal("lease counter query returned no row");
  next_lease = persisted_next_lease = stmt.Int(0);
  return Status::OK();
}

Status Store::Impl::IndexSearchBacklog() {
  // Ascending ids: FTS5 appends them to its pending words, written as one segment at commit.
  // The backlog is emptied with a WHERE clause: a bare "DELETE FROM" takes SQLite's truncate
  // path, which rewrites the table's root page even when it is empty, so every commit (the
  // grid load's variant upsert, a lone submit's) wrote a page and paid a WAL fsync for nothing.
  for (const char* sql :
       {"INSERT INTO reply_search (rowid, response_json) SELECT id, response_json FROM calls"
        " WHERE id > (SELECT reply_indexed_to FROM view_search_mark) ORDER BY id",
        "UPDATE view_search_mark SET reply_indexed_to = (SELECT max(id) FROM calls)"
        " WHERE reply_indexed_to < (SELECT ifnull(max(id), 0) FROM calls)",
        "INSERT INTO answer_search (rowid, final_answer) SELECT r.job_id, r.final_answer"
        " FROM view_answer_backlog b JOIN results r ON r.job_id = b.job_id ORDER BY b.job_id",
        "DELETE FROM view_answer_backlog WHERE job_id IS NOT NULL"}) {
    CS_ASSIGN_OR_RETURN(Stmt stmt, db->Prepare(sql));
    CS_RETURN_IF_ERROR(stmt.Run());
  }
  return Status::OK();
}

Status Store::Impl::CommitNow() {
  if (!lost_writes.ok()) {
    Status lost = lost_writes;
    lost_writes = Status::OK();
    db->Rollback();
    return lost;
  }
  if (!db->in_transaction()) return Status::OK();
  if (!deferred_job_indexes.empty()) {
    Result<int64_t> built = BuildDeferredJobIndexes();
    if (!built.ok()) {
      db->Rollback();  // never commit the jobs table without its indexes
      return built.status().WithContext("commit (jobs indexes)");
    }
  }
  if (search_backlog) {
    if (Status s = IndexSearchBacklog(); !s.ok()) {
      db->Rollback();  // never commit replies or answers the viewer's search cannot find
      return s.WithContext("commit (full-text indexes)");
    }
  }
  if (next_lease != persisted_next_lease) {
    Status s;
    {
      Result<Stmt> stmt = db->Prepare("UPDATE meta SET value = ?1 WHERE key = 'next_lease_token'");
      s = stmt.ok() ? stmt->Bind(1, next_lease).Run() : stmt.status();
    }
    if (!s.ok()) {
      db->Rollback();
      return s.WithContext("commit (lease counter)");
    }
  }
  Status s = db->Commit();
  if (s.ok()) persisted_next_lease = next_lease;
  if (bulk_cache) {
    bulk_cache = false;
    Status shrink = db->Exec(CacheSizePragma(kCacheKiB));
    (void)shrink;    // only a memory hint
    malloc_trim(0);  // hand the bulk page cache back to the OS
  }
  return s;
}

Status Store::Impl::EnterBulkCache() {
  if (bulk_cache) return Status::OK();
  bulk_cache = true;
  return db->Exec(CacheSizePragma(kBulkCacheKiB));
}

Status SavepointBegin(store_internal::StoreDb& db) {
  CS_ASSIGN_OR_RETURN(Stmt stmt, db.Prepare("SAVEPOINT cs_op"));
  return stmt.Run();
}

Status SavepointRelease(store_internal::StoreDb& db) {
  CS_ASSIGN_OR_RETURN(Stmt stmt, db.Prepare("RELEASE cs_op"));
  return stmt.Run();
}

void SavepointRollback(store_internal::StoreDb& db) {
  if (sqlite3_get_autocommit(db.raw())) return;
  sqlite3_exec(db.raw(), "ROLLBACK TO cs_op; RELEASE cs_op", nullptr, nullptr, nullptr);
}

JobRow ReadJobRow(const Stmt& stmt) {
  JobRow row;
  row.job = JobId(stmt.Int(0));
  row.cell = CellKey(stmt.Type(1) == SQLITE_BLOB ? store_internal::BytesToHex(stmt.Bytes(1))
                                                 : stmt.Text(1));
  row.sweep_id = stmt.Int(2);
  row.task = stmt.Text(3);
  row.complexity = stmt.Text(4);
  row.sample = stmt.Int(5);
  row.variant_id = stmt.Int(6);
  row.method = stmt.Text(7);
  row.turns = static_cast<int>(stmt.Int(8));
  row.state = ParseJobState(stmt.Text(9)).value_or(JobState::kPending);
  row.attempts = static_cast<int>(stmt.Int(10));
  row.lease = LeaseToken(stmt.Int(11));
  row.worker = stmt.Text(12);
  row.lease_until_ms = stmt.Int(13);
  row.not_before_ms = stmt.Int(14);
  row.epoch = static_cast<int>(stmt.Int(15));
  row.method_template_id = stmt.Int(16);
  return row;
}

void BindCellKey(Stmt& stmt, int index, const CellKey& cell) {
  unsigned char raw[32];
  if (store_internal::HexToBytes32(cell.value(), raw)) {
    stmt.BindBlob(index, raw, 32);
  } else {
    stmt.Bind(index, cell.value());
  }
}

// ---- Store ----

Store::Store(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Store::~Store() {
  if (impl_ && !impl_->options.read_only) {
    Status s = impl_->CommitNow();  // best effort: pending writes are valid state
    (void)s;
  }
}

Result<std::unique_ptr<Store>> Store::Open(const std::string& path, const StoreOptions& options) {
  CS_ASSIGN_OR_RETURN(std::unique_ptr<StoreDb> db,
                      StoreDb::Open(path, options.read_only, options.create, options.log));
  CS_RETURN_IF_ERROR(NamePath(ConfigureConnection(*db, options), path));
  CS_ASSIGN_OR_RETURN(int version, ReadUserVersion(*db));
  CS_RETURN_IF_ERROR(CheckVersion(version, path));
  if (version == 0) {
    CS_ASSIGN_OR_RETURN(bool has_tables, HasAnyTable(*db));
    if (has_tables) {
      return Status::FailedPrecondition(path + ": not a codesweep database (user_version 0)");
    }
  }
  if (options.read_only) {
    for (const store_sql::Migration& m : store_sql::kMigrations) {
      // The Store reads tables only; the views a reader lacks are ReportDb's (temp views).
      if (m.version <= version || MigrationInvisibleToReaders(m.name) ||
          std::string_view(m.name).ends_with("views.sql")) {
        continue;
      }
      return Status::FailedPrecondition(
          path + ": database schema version " + std::to_string(version) + " needs migration to " +
          std::to_string(LatestSchemaVersion()) + "; open it once without read-only");
    }
  } else {
    CS_RETURN_IF_ERROR(Migrate(*db, version, path));
  }
  auto impl = std::make_unique<Impl>();
  impl->db = std::move(db);
  impl->options = options;
  CS_RETURN_IF_ERROR(NamePath(impl->LoadLeaseCounter(), path));
  if (!options.read_only) {
    CS_ASSIGN_OR_RETURN(Stmt has,
                        impl->db->Prepare("SELECT count(*) FROM sqlite_schema WHERE name IN"
                                          " ('view_search_mark', 'view_answer_backlog',"
                                          " 'reply_search', 'answer_search')"));
    CS_ASSIGN_OR_RETURN(bool row, has.Step());
    impl->search_backlog = row && has.Int(0) == 4;
    sqlite3_wal_hook(impl->db->raw(), Store::Impl::WalHook, impl.get());
  }
  return std::unique_ptr<Store>(new Store(std::move(impl)));
}

Status Store::Commit() { return impl_->CommitNow(); }

bool Store::CheckpointIfDue() {
  if (impl_->options.read_only || impl_->db->in_transaction() ||
      impl_->wal_frames < kWalEarlyCheckpointFrames) {
    return false;
  }
  (void)sqlite3_wal_checkpoint_v2(impl_->db->raw(), nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr,
                                  nullptr);
  impl_->wal_frames = 0;
  return true;
}

bool Store::has_pending_writes() const {
  return impl_->db->in_transaction() || !impl_->lost_writes.ok();
}

int Store::LatestSchemaVersion() {
  int latest = 0;
  for (const store_sql::Migration& m : store_sql::kMigrations) {
    if (m.version > latest) latest = m.version;
  }
  return latest;
}

Result<int> Store::SchemaVersion() { return ReadUserVersion(*impl_->db); }

}  // namespace codesweep
