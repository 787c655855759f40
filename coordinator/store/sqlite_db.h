// StoreDb: the thin RAII adapter over one sqlite3 connection used by Store (private to
// coordinator/store*.cc; nothing else includes it). It caches prepared statements, maps sqlite3
// result codes to Status, and owns the implicit write transaction (group commit). One thread.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "base/log.h"
#include "base/status.h"

namespace codesweep::store_internal {

// Maps an sqlite3 result code to a Status "<database file>: <what>: <sqlite message>". The
// message goes to users: `what` is words, never SQL. Disk full adds what to do about it.
Status SqliteStatus(sqlite3* db, int rc, std::string_view what);
// As above, and logs the failing statement's SQL (for developers) to `log` when it is set.
Status SqliteStatus(sqlite3* db, int rc, std::string_view what, std::string_view sql, Logger* log);

// A cached prepared statement in use. Binding is 1-based. Resets itself on destruction, so a
// statement is never left holding a read transaction open.
class Stmt {
 public:
  Stmt(sqlite3* db, sqlite3_stmt* stmt, Logger* log) : db_(db), stmt_(stmt), log_(log) {}
  ~Stmt();
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  Stmt(Stmt&& other) noexcept : db_(other.db_), stmt_(other.stmt_), log_(other.log_) {
    other.stmt_ = nullptr;
  }

  Stmt& Bind(int i, int64_t v);
  Stmt& Bind(int i, int v) { return Bind(i, static_cast<int64_t>(v)); }
  Stmt& Bind(int i, bool v) { return Bind(i, static_cast<int64_t>(v ? 1 : 0)); }
  Stmt& Bind(int i, double v);
  Stmt& Bind(int i, std::string_view v);  // TEXT, copied; invalid UTF-8 becomes U+FFFD
  Stmt& Bind(int i, const char* v) { return Bind(i, std::string_view(v)); }
  Stmt& Bind(int i, const std::string& v) { return Bind(i, std::string_view(v)); }
  Stmt& BindBlob(int i, const void* data, int size);
  Stmt& BindNull(int i);

  // Steps once: true when a row is available, false when done, or an error Status.
  Result<bool> Step();
  // Steps to completion (for statements without rows).
  Status Run();
  // Makes the statement ready to run again (bindings are kept until rebound).
  void Reset() {
    sqlite3_reset(stmt_);
    bind_error_ = Status::OK();
  }

  int64_t Int(int col) const { return sqlite3_column_int64(stmt_, col); }
  double Double(int col) const { return sqlite3_column_double(stmt_, col); }
  std::string Text(int col) const;
  int Type(int col) const { return sqlite3_column_type(stmt_, col); }
  std::string_view Bytes(int col) const;
  int Changes() const { return sqlite3_changes(db_); }

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_;
  Logger* log_;  // may be null
  Status bind_error_;
};

class StoreDb {
 public:
  // `log` (may be null, must outlive the StoreDb) receives the SQL of failed statements.
  static Result<std::unique_ptr<StoreDb>> Open(const std::string& path, bool read_only, bool create,
                                               Logger* log = nullptr);
  ~StoreDb();
  StoreDb(const StoreDb&) = delete;
  StoreDb& operator=(const StoreDb&) = delete;

  sqlite3* raw() { return db_; }
  // A statement from the cache (prepared on first use). `sql` must be a string literal: the
  // cache is keyed by its address.
  Result<Stmt> Prepare(const char* sql);
  // Runs one or more statements without results (pragmas, DDL, BEGIN/COMMIT).
  Status Exec(const std::string& sql);

  // The implicit write transaction: Begin() is BEGIN IMMEDIATE unless one is open (retrying a
  // bounded number of times on SQLITE_BUSY beyond busy_timeout).
  Status Begin();
  Status Commit();  // no-op without an open transaction; on failure the transaction is gone
  void Rollback();  // best effort
  bool in_transaction() const { return in_txn_; }
  // After a failed statement: if SQLite rolled the transaction back itself (disk full, IO
  // error), note that it is gone.
  void SyncTransactionState();

 private:
  StoreDb(sqlite3* db, Logger* log) : db_(db), log_(log) {}
  sqlite3* db_;
  Logger* log_;
  bool in_txn_ = false;
  std::unordered_map<const char*, sqlite3_stmt*> cache_;
};

// Converts a 64-char lower-case hex string to 32 bytes; false if `hex` is not such a string.
bool HexToBytes32(std::string_view hex, unsigned char out[32]);
std::string BytesToHex(std::string_view bytes);

}  // namespace codesweep::store_internal
