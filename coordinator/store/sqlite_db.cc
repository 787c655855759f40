#include "coordinator/store/sqlite_db.h"

#include <string>

#include "base/utf8.h"

namespace codesweep::store_internal {
namespace {

constexpr int kBeginRetries = 5;  // on top of busy_timeout

StatusCode CodeFor(int rc) {
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return StatusCode::kUnavailable;
    case SQLITE_FULL:
      return StatusCode::kResourceExhausted;
    case SQLITE_IOERR:
    case SQLITE_CANTOPEN:
      return StatusCode::kIoError;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return StatusCode::kCorruption;
    case SQLITE_CONSTRAINT:
      return StatusCode::kAlreadyExists;
    case SQLITE_READONLY:
    case SQLITE_PERM:
    case SQLITE_AUTH:
      return StatusCode::kPermissionDenied;
    case SQLITE_NOMEM:
      return StatusCode::kResourceExhausted;
    case SQLITE_MISMATCH:
    case SQLITE_RANGE:
    case SQLITE_TOOBIG:
      return StatusCode::kInvalidArgument;
    default:
      return StatusCode::kInternal;
  }
}

// How much of one operation's statement journal stays in memory (see StoreDb::Open).
constexpr int kStmtJournalSpillBytes = 4 << 20;

}  // namespace

Status SqliteStatus(sqlite3* db, int rc, std::string_view what) {
  std::string m;
  const char* file = db != nullptr ? sqlite3_db_filename(db, "main") : nullptr;
  if (file != nullptr && *file != '\0') {
    m += file;
    m += ": ";
  }
  if (!what.empty()) {
    m += what;
    m += ": ";
  }
  m += sqlite3_errstr(rc);
  if (db != nullptr && sqlite3_errcode(db) == rc) {
    const char* detail = sqlite3_errmsg(db);
    if (detail != nullptr && std::string_view(detail) != sqlite3_errstr(rc)) {
      m += " (";
      m += detail;
      m += ")";
    }
  }
  if ((rc & 0xff) == SQLITE_FULL) {
    m += "; free space on the file system that holds it, then run again to resume";
  }
  return Status(CodeFor(rc), std::move(m));
}

Status SqliteStatus(sqlite3* db, int rc, std::string_view what, std::string_view sql, Logger* log) {
  Status s = SqliteStatus(db, rc, what);
  if (log != nullptr && !sql.empty()) log->Warn(Str(s.message(), " [sql: ", sql, "]"));
  return s;
}

// ---- Stmt ----

Stmt::~Stmt() {
  if (stmt_ != nullptr) {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
}

Stmt& Stmt::Bind(int i, int64_t v) {
  int rc = sqlite3_bind_int64(stmt_, i, v);
  if (rc != SQLITE_OK && bind_error_.ok()) bind_error_ = SqliteStatus(db_, rc, "bind");
  return *this;
}

Stmt& Stmt::Bind(int i, double v) {
  int rc = sqlite3_bind_double(stmt_, i, v);
  if (rc != SQLITE_OK && bind_error_.ok()) bind_error_ = SqliteStatus(db_, rc, "bind");
  return *this;
}

Stmt& Stmt::Bind(int i, std::string_view v) {
  // Every TEXT column holds valid UTF-8 (model and program output is hostile): invalid sequences
  // become U+FFFD here, the one place text enters the database.
  std::string repaired;
  if (!IsValidUtf8(v)) v = repaired = ValidUtf8(v);
  int rc = sqlite3_bind_text64(stmt_, i, v.data(), v.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
  if (rc != SQLITE_OK && bind_error_.ok()) bind_error_ = SqliteStatus(db_, rc, "bind");
  return *this;
}

Stmt& Stmt::BindBlob(int i, const void* data, int size) {
  int rc = sqlite3_bind_blob(stmt_, i, data, size, SQLITE_TRANSIENT);
  if (rc != SQLITE_OK && bind_error_.ok()) bind_error_ = SqliteStatus(db_, rc, "bind");
  return *this;
}

Stmt& Stmt::BindNull(int i) {
  int rc = sqlite3_bind_null(stmt_, i);
  if (rc != SQLITE_OK && bind_error_.ok()) bind_error_ = SqliteStatus(db_, rc, "bind");
  return *this;
}

Result<bool> Stmt::Step() {
  if (!bind_error_.ok()) return bind_error_;
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return SqliteStatus(db_, rc, "", sqlite3_sql(stmt_), log_);
}

Status Stmt::Run() {
  while (true) {
    CS_ASSIGN_OR_RETURN(bool row, Step());
    if (!row) return Status::OK();
  }
}

std::string Stmt::Text(int col) const {
  const unsigned char* p = sqlite3_column_text(stmt_, col);
  if (p == nullptr) return std::string();
  return std::string(reinterpret_cast<const char*>(p), sqlite3_column_bytes(stmt_, col));
}

std::string_view Stmt::Bytes(int col) const {
  const void* p = sqlite3_column_blob(stmt_, col);
  if (p == nullptr) return std::string_view();
  return std::string_view(static_cast<const char*>(p), sqlite3_column_bytes(stmt_, col));
}

// ---- StoreDb ----

Result<std::unique_ptr<StoreDb>> StoreDb::Open(const std::string& path, bool read_only, bool create,
                                               Logger* log) {
  // Every store write runs in a SAVEPOINT inside the group-commit transaction, and SQLite keeps
  // the undo record of each (the statement journal: every page the operation touches, ~15-20
  // pages for a lease or a completion with the jobs indexes) in memory only up to 64 KiB by
  // default, then spills it to a temp file for the rest of the transaction: one pwrite per page
  // per operation, about a quarter of the coordinator's CPU on the dispatch path (BENCHMARKS.md,
  // issue 16 section 4). Keep it in memory up to kStmtJournalSpillBytes. A process-wide setting,
  // accepted only before SQLite initializes (the first open); later calls fail harmlessly.
  // (PRAGMA temp_store = MEMORY would do it too, but it also takes the helper threads away from
  // the index sorts of a grid load.)
  static const int kStmtJournalConfigured =
      sqlite3_config(SQLITE_CONFIG_STMTJRNL_SPILL, kStmtJournalSpillBytes);
  (void)kStmtJournalConfigured;
  int flags = SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE;
  if (read_only) {
    flags |= SQLITE_OPEN_READONLY;
  } else {
    flags |= SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0);
  }
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &db, flags, nullptr);
  if (rc != SQLITE_OK) {
    Status s = SqliteStatus(nullptr, rc, path + ": cannot open the database");
    sqlite3_close_v2(db);
    if ((rc & 0xff) == SQLITE_CANTOPEN) return Status::NotFound(s.message());
    return s;
  }
  return std::unique_ptr<StoreDb>(new StoreDb(db, log));
}

StoreDb::~StoreDb() {
  for (auto& [sql, stmt] : cache_) sqlite3_finalize(stmt);
  sqlite3_close_v2(db_);
}

Result<Stmt> StoreDb::Prepare(const char* sql) {
  auto it = cache_.find(sql);
  if (it != cache_.end()) return Stmt(db_, it->second, log_);
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
  if (rc != SQLITE_OK) return SqliteStatus(db_, rc, "preparing a statement", sql, log_);
  cache_.emplace(sql, stmt);
  return Stmt(db_, stmt, log_);
}

Status StoreDb::Exec(const std::string& sql) {
  char* err = nullptr;
  int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err);
  if (rc == SQLITE_OK) return Status::OK();
  sqlite3_free(err);
  return SqliteStatus(db_, rc, "", sql, log_);
}

Status StoreDb::Begin() {
  if (in_txn_) return Status::OK();
  Status s;
  for (int i = 0; i < kBeginRetries; ++i) {
    s = Exec("BEGIN IMMEDIATE");
    if (s.ok()) {
      in_txn_ = true;
      return s;
    }
    if (s.code() != StatusCode::kUnavailable) break;
  }
  return s.WithContext("begin write transaction");
}

Status StoreDb::Commit() {
  if (!in_txn_) return Status::OK();
  Status s;
  for (int i = 0; i < kBeginRetries; ++i) {
    s = Exec("COMMIT");
    if (s.ok() || s.code() != StatusCode::kUnavailable) break;
  }
  if (!s.ok()) Rollback();
  in_txn_ = false;
  return s.WithContext("commit");
}

void StoreDb::Rollback() {
  if (!sqlite3_get_autocommit(db_)) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  in_txn_ = false;
}

void StoreDb::SyncTransactionState() {
  if (in_txn_ && sqlite3_get_autocommit(db_)) in_txn_ = false;
}

// ---- hex ----

namespace {
// Value of each byte as a lower-case hex digit, or -1.
struct HexTable {
  signed char v[256];
  constexpr HexTable() : v() {
    for (int i = 0; i < 256; ++i) v[i] = -1;
    for (int i = 0; i < 10; ++i) v['0' + i] = static_cast<signed char>(i);
    for (int i = 0; i < 6; ++i) v['a' + i] = static_cast<signed char>(10 + i);
  }
};
constexpr HexTable kHex;
}  // namespace

bool HexToBytes32(std::string_view hex, unsigned char out[32]) {
  if (hex.size() != 64) return false;
  int bad = 0;
  for (int i = 0; i < 32; ++i) {
    int hi = kHex.v[static_cast<unsigned char>(hex[2 * i])];
    int lo = kHex.v[static_cast<unsigned char>(hex[2 * i + 1])];
    bad |= hi | lo;  // any -1 sets the sign bit
    out[i] = static_cast<unsigned char>(hi << 4 | lo);
  }
  return bad >= 0;
}

std::string BytesToHex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(bytes.size() * 2, '0');
  for (size_t i = 0; i < bytes.size(); ++i) {
    auto b = static_cast<unsigned char>(bytes[i]);
    out[2 * i] = kDigits[b >> 4];
    out[2 * i + 1] = kDigits[b & 0xf];
  }
  return out;
}

}  // namespace codesweep::store_internal
