#include "coordinator/store/sqlite_db.h"

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

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

// How much of a savepoint's undo record (SQLite's statement journal) stays in memory before it
// spills to a temp file. Every store write runs in a SAVEPOINT inside the group-commit
// transaction, and the record holds every page the write touches: ~15-20 pages for a lease or a
// completion with the jobs indexes. At SQLite's default of 64 KiB it spilled, and from then on
// every write of the transaction paid one pwrite per page (BENCHMARKS.md, issue 16 section 4).
constexpr int64_t kStmtJournalMemoryBytes = 4 << 20;

// The largest write the VFS shim below passes on at once.
constexpr int kMaxWriteBytes = 64 << 10;

// Why a VFS shim, and why the statement journal lives in it rather than in SQLite's own memory
// journal (SQLITE_CONFIG_STMTJRNL_SPILL, set to 0 here: every statement journal is opened
// through the VFS):
// - SQLite 3.40's memory journal (memjournal.c) allocates its data in chunks as large as the
//   spill threshold, and frees them whenever a savepoint is released: with a 4 MiB threshold
//   every store write allocated, and under ASan also poisoned and unpoisoned, a 4 MiB chunk,
//   which cost the sanitized coordinator 5x its CPU per job (BENCHMARKS.md, CI section).
// - When that journal spills, it copies itself to the temp file in writes of its chunk size,
//   and the unix VFS masks every write length to 17 bits (os_unix.c, seekAndWriteFd: nBuf &=
//   0x1ffff), so a write of 128 KiB or more comes out short (a 4 MiB one as 0 bytes) and is
//   reported as SQLITE_FULL; that is how a grid load's CREATE UNIQUE INDEX once failed.
// Here a statement journal is a growable buffer (kept per thread between transactions) up to
// kStmtJournalMemoryBytes; past that it spills to a real temp file, and writes to temp journals
// are split into pieces the unix VFS takes whole. Every other file is the underlying VFS's own.
struct SplitFile {
  sqlite3_file base;          // pMethods = &kMemMethods (in memory) or &kSplitMethods
  sqlite3_file* real;         // the underlying VFS's file, in the same allocation, right after this
  std::vector<char>* memory;  // the statement journal while in memory; null once spilled
  sqlite3_vfs* real_vfs;
  int flags;
};

sqlite3_file* RealFile(sqlite3_file* f) { return reinterpret_cast<SplitFile*>(f)->real; }
sqlite3_vfs* RealVfs(sqlite3_vfs* vfs) { return static_cast<sqlite3_vfs*>(vfs->pAppData); }

int SplitClose(sqlite3_file* f) {
  sqlite3_file* r = RealFile(f);
  return r->pMethods->xClose(r);
}
int SplitRead(sqlite3_file* f, void* buf, int n, sqlite3_int64 off) {
  sqlite3_file* r = RealFile(f);
  return r->pMethods->xRead(r, buf, n, off);
}
int SplitWrite(sqlite3_file* f, const void* buf, int n, sqlite3_int64 off) {
  sqlite3_file* r = RealFile(f);
  const char* p = static_cast<const char*>(buf);
  while (n > 0) {
    const int part = n < kMaxWriteBytes ? n : kMaxWriteBytes;
    int rc = r->pMethods->xWrite(r, p, part, off);
    if (rc != SQLITE_OK) return rc;
    p += part;
    n -= part;
    off += part;
  }
  return SQLITE_OK;
}
int SplitTruncate(sqlite3_file* f, sqlite3_int64 size) {
  sqlite3_file* r = RealFile(f);
  return r->pMethods->xTruncate(r, size);
}
int SplitSync(sqlite3_file* f, int flags) {
  sqlite3_file* r = RealFile(f);
  return r->pMethods->xSync(r, flags);
}
int SplitFileSize(sqlite3_file* f, sqlite3_int64* size) {
  sqlite3_file* r = RealFile(f);
  return r->pMethods->xFileSize(r, size);
}
int SplitLock(sqlite3_file* f, int level) {
  sqlite3_file* r = RealFile(f);
  return r->pMethods->xLock(r, level);
}
int SplitUnlock(sqlite3_file* f, int level) {
  sqlite3_file* r = RealFile(f);
  return r->pMethods->xUnlock(r, level);
}
int SplitCheckReservedLock(sqlite3_file* f, int* out) {
  sqlite3_file* r = RealFile(f);
  return r->pMethods->xCheckReservedLock(r, out);
}
int SplitFileControl(sqlite3_file* f, int op, void* arg) {
  sqlite3_file* r = RealFile(f);
  return r->pMethods->xFileControl(r, op, arg);
}
int SplitSectorSize(sqlite3_file* f) {
  sqlite3_file* r = RealFile(f);
  return r->pMethods->xSectorSize(r);
}
int SplitDeviceCharacteristics(sqlite3_file* f) {
  sqlite3_file* r = RealFile(f);
  return r->pMethods->xDeviceCharacteristics(r);
}

extern const sqlite3_io_methods kSplitMethods;

// A thread's statement-journal buffer between transactions: its capacity is reused.
thread_local std::vector<char> t_spare_journal;

std::vector<char>* TakeJournalBuffer() {
  auto* buffer = new std::vector<char>(std::move(t_spare_journal));
  buffer->clear();
  return buffer;
}

void ReturnJournalBuffer(std::vector<char>* buffer) {
  if (buffer->capacity() > t_spare_journal.capacity()) t_spare_journal = std::move(*buffer);
  delete buffer;
}

int MemClose(sqlite3_file* f) {
  auto* file = reinterpret_cast<SplitFile*>(f);
  ReturnJournalBuffer(file->memory);
  file->memory = nullptr;
  return SQLITE_OK;
}
int MemRead(sqlite3_file* f, void* buf, int n, sqlite3_int64 off) {
  const std::vector<char>& m = *reinterpret_cast<SplitFile*>(f)->memory;
  const int64_t size = static_cast<int64_t>(m.size());
  const int64_t have = off >= size ? 0 : std::min<int64_t>(n, size - off);
  if (have > 0) std::memcpy(buf, m.data() + off, static_cast<size_t>(have));
  if (have == n) return SQLITE_OK;
  std::memset(static_cast<char*>(buf) + have, 0, static_cast<size_t>(n - have));
  return SQLITE_IOERR_SHORT_READ;
}
int MemWrite(sqlite3_file* f, const void* buf, int n, sqlite3_int64 off) {
  auto* file = reinterpret_cast<SplitFile*>(f);
  std::vector<char>& m = *file->memory;
  if (off + n > kStmtJournalMemoryBytes) {
    // Spill: the real temp file takes what is in memory, then this write and all later ones.
    sqlite3_vfs* real = file->real_vfs;
    file->real->pMethods = nullptr;
    int rc = real->xOpen(real, nullptr, file->real, file->flags, nullptr);
    if (rc != SQLITE_OK) {
      if (file->real->pMethods != nullptr) file->real->pMethods->xClose(file->real);
      return rc;
    }
    file->base.pMethods = &kSplitMethods;
    rc = m.empty() ? SQLITE_OK : SplitWrite(f, m.data(), static_cast<int>(m.size()), 0);
    ReturnJournalBuffer(file->memory);
    file->memory = nullptr;
    return rc == SQLITE_OK ? SplitWrite(f, buf, n, off) : rc;
  }
  if (static_cast<size_t>(off + n) > m.size()) m.resize(static_cast<size_t>(off + n));
  std::memcpy(m.data() + off, buf, static_cast<size_t>(n));
  return SQLITE_OK;
}
int MemTruncate(sqlite3_file* f, sqlite3_int64 size) {
  std::vector<char>& m = *reinterpret_cast<SplitFile*>(f)->memory;
  if (static_cast<size_t>(size) < m.size()) m.resize(static_cast<size_t>(size));
  return SQLITE_OK;
}
int MemSync(sqlite3_file*, int) { return SQLITE_OK; }
int MemFileSize(sqlite3_file* f, sqlite3_int64* size) {
  *size = static_cast<sqlite3_int64>(reinterpret_cast<SplitFile*>(f)->memory->size());
  return SQLITE_OK;
}
int MemLock(sqlite3_file*, int) { return SQLITE_OK; }
int MemCheckReservedLock(sqlite3_file*, int* out) {
  *out = 0;
  return SQLITE_OK;
}
int MemFileControl(sqlite3_file*, int, void*) { return SQLITE_NOTFOUND; }
int MemSectorSize(sqlite3_file*) { return 4096; }
int MemDeviceCharacteristics(sqlite3_file*) { return 0; }

// Version 1: temp journals need no shared memory or memory mapping.
const sqlite3_io_methods kSplitMethods = {1,
                                          SplitClose,
                                          SplitRead,
                                          SplitWrite,
                                          SplitTruncate,
                                          SplitSync,
                                          SplitFileSize,
                                          SplitLock,
                                          SplitUnlock,
                                          SplitCheckReservedLock,
                                          SplitFileControl,
                                          SplitSectorSize,
                                          SplitDeviceCharacteristics,
                                          nullptr,
                                          nullptr,
                                          nullptr,
                                          nullptr,
                                          nullptr,
                                          nullptr};
const sqlite3_io_methods kMemMethods = {1,
                                        MemClose,
                                        MemRead,
                                        MemWrite,
                                        MemTruncate,
                                        MemSync,
                                        MemFileSize,
                                        MemLock,
                                        MemLock,
                                        MemCheckReservedLock,
                                        MemFileControl,
                                        MemSectorSize,
                                        MemDeviceCharacteristics,
                                        nullptr,
                                        nullptr,
                                        nullptr,
                                        nullptr,
                                        nullptr,
                                        nullptr};

int SplitOpen(sqlite3_vfs* vfs, sqlite3_filename name, sqlite3_file* file, int flags,
              int* out_flags) {
  sqlite3_vfs* real = RealVfs(vfs);
  if ((flags & (SQLITE_OPEN_SUBJOURNAL | SQLITE_OPEN_TEMP_JOURNAL)) == 0) {
    return real->xOpen(real, name, file, flags, out_flags);
  }
  auto* split = reinterpret_cast<SplitFile*>(file);
  split->base.pMethods = nullptr;
  split->real = reinterpret_cast<sqlite3_file*>(split + 1);
  split->real->pMethods = nullptr;
  split->memory = nullptr;
  split->real_vfs = real;
  split->flags = flags;
  if (name == nullptr) {  // SQLite names neither statement journals nor temp databases' journals
    split->memory = TakeJournalBuffer();
    split->base.pMethods = &kMemMethods;
    if (out_flags != nullptr) *out_flags = flags;
    return SQLITE_OK;
  }
  int rc = real->xOpen(real, name, split->real, flags, out_flags);
  // SQLite closes a file whose pMethods is set, even when the open failed.
  if (split->real->pMethods != nullptr) split->base.pMethods = &kSplitMethods;
  return rc;
}

int SplitDelete(sqlite3_vfs* vfs, const char* name, int sync_dir) {
  return RealVfs(vfs)->xDelete(RealVfs(vfs), name, sync_dir);
}
int SplitAccess(sqlite3_vfs* vfs, const char* name, int flags, int* out) {
  return RealVfs(vfs)->xAccess(RealVfs(vfs), name, flags, out);
}
int SplitFullPathname(sqlite3_vfs* vfs, const char* name, int n, char* out) {
  return RealVfs(vfs)->xFullPathname(RealVfs(vfs), name, n, out);
}
void* SplitDlOpen(sqlite3_vfs* vfs, const char* name) {
  return RealVfs(vfs)->xDlOpen(RealVfs(vfs), name);
}
void SplitDlError(sqlite3_vfs* vfs, int n, char* out) {
  RealVfs(vfs)->xDlError(RealVfs(vfs), n, out);
}
void (*SplitDlSym(sqlite3_vfs* vfs, void* handle, const char* sym))(void) {
  return RealVfs(vfs)->xDlSym(RealVfs(vfs), handle, sym);
}
void SplitDlClose(sqlite3_vfs* vfs, void* handle) { RealVfs(vfs)->xDlClose(RealVfs(vfs), handle); }
int SplitRandomness(sqlite3_vfs* vfs, int n, char* out) {
  return RealVfs(vfs)->xRandomness(RealVfs(vfs), n, out);
}
int SplitSleep(sqlite3_vfs* vfs, int us) { return RealVfs(vfs)->xSleep(RealVfs(vfs), us); }
int SplitCurrentTime(sqlite3_vfs* vfs, double* out) {
  return RealVfs(vfs)->xCurrentTime(RealVfs(vfs), out);
}
int SplitGetLastError(sqlite3_vfs* vfs, int n, char* out) {
  return RealVfs(vfs)->xGetLastError(RealVfs(vfs), n, out);
}
int SplitCurrentTimeInt64(sqlite3_vfs* vfs, sqlite3_int64* out) {
  return RealVfs(vfs)->xCurrentTimeInt64(RealVfs(vfs), out);
}

constexpr const char* kVfsName = "codesweep";

// Hands every statement journal to the shim (the spill threshold is process-wide, and SQLite
// takes it only before it initializes, so on the first open) and registers the shim; returns the
// VFS name to open with, or nullptr (the default VFS) if the shim could not be registered.
const char* StoreVfs() {
  static const char* const name = []() -> const char* {
    static sqlite3_vfs vfs;
    // The threshold needs the shim: set it only once the shim is in place. The register call
    // initializes SQLite, which ends the window for sqlite3_config; so configure first and undo
    // the setting (shutdown, configure, initialize) in the unlikely case the shim fails.
    // 0: SQLite keeps no statement journal in its own memory; the shim's buffer holds it.
    const bool spill = sqlite3_config(SQLITE_CONFIG_STMTJRNL_SPILL, 0) == SQLITE_OK;
    sqlite3_vfs* real = sqlite3_vfs_find(nullptr);
    if (real != nullptr && real->iVersion >= 2) {
      vfs.iVersion = 2;
      vfs.szOsFile = static_cast<int>(sizeof(SplitFile)) + real->szOsFile;
      vfs.mxPathname = real->mxPathname;
      vfs.zName = kVfsName;
      vfs.pAppData = real;
      vfs.xOpen = SplitOpen;
      vfs.xDelete = SplitDelete;
      vfs.xAccess = SplitAccess;
      vfs.xFullPathname = SplitFullPathname;
      vfs.xDlOpen = SplitDlOpen;
      vfs.xDlError = SplitDlError;
      vfs.xDlSym = SplitDlSym;
      vfs.xDlClose = SplitDlClose;
      vfs.xRandomness = SplitRandomness;
      vfs.xSleep = SplitSleep;
      vfs.xCurrentTime = SplitCurrentTime;
      vfs.xGetLastError = SplitGetLastError;
      vfs.xCurrentTimeInt64 = SplitCurrentTimeInt64;
      if (sqlite3_vfs_register(&vfs, /*makeDflt=*/0) == SQLITE_OK) return kVfsName;
    }
    if (spill) {
      sqlite3_shutdown();
      sqlite3_config(SQLITE_CONFIG_STMTJRNL_SPILL, 64 << 10);  // SQLite's default
      sqlite3_initialize();
    }
    return nullptr;
  }();
  return name;
}

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
  int flags = SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE;
  if (read_only) {
    flags |= SQLITE_OPEN_READONLY;
  } else {
    flags |= SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0);
  }
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &db, flags, StoreVfs());
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
