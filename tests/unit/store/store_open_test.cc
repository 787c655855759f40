// Store: opening, migrations, version refusal, read-only mode, group commit, the state CHECK,
// the call cache, workers and the analysis views.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <cstdio>
#include <fstream>

#include "coordinator/store/store.h"
#include "store_test_util.h"

namespace codesweep {
namespace {

using testing_store::Cells;
using testing_store::Fixture;
using testing_store::MakeFixture;
using testing_store::TempDir;
using testing_store::Verdict;

constexpr int64_t kNow = 1'700'000'000'000;

// A raw second connection for checks the Store API does not offer.
class RawDb {
 public:
  explicit RawDb(const std::string& path) {
    EXPECT_EQ(sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE, nullptr), SQLITE_OK);
    sqlite3_busy_timeout(db_, 5000);
  }
  ~RawDb() { sqlite3_close_v2(db_); }
  int Exec(const std::string& sql) {
    return sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, nullptr);
  }
  int64_t Int(const std::string& sql) {
    sqlite3_stmt* stmt = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db_, sql.c_str(), -1, &stmt, nullptr), SQLITE_OK) << sql;
    int64_t v = -1;
    if (sqlite3_step(stmt) == SQLITE_ROW) v = sqlite3_column_int64(stmt, 0);
    sqlite3_finalize(stmt);
    return v;
  }
  std::string Text(const std::string& sql) {
    sqlite3_stmt* stmt = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db_, sql.c_str(), -1, &stmt, nullptr), SQLITE_OK) << sql;
    std::string v;
    if (sqlite3_step(stmt) == SQLITE_ROW) {
      const unsigned char* p = sqlite3_column_text(stmt, 0);
      if (p != nullptr) v = reinterpret_cast<const char*>(p);
    }
    sqlite3_finalize(stmt);
    return v;
  }

 private:
  sqlite3* db_ = nullptr;
};

TEST(StoreOpen, MigratesFromEmptyAndReopens) {
  TempDir dir;
  const std::string path = dir.File("a.db");
  {
    auto store = Store::Open(path, StoreOptions{});
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    EXPECT_EQ(*(*store)->SchemaVersion(), Store::LatestSchemaVersion());
    EXPECT_GE(Store::LatestSchemaVersion(), 1);
  }
  RawDb raw(path);
  EXPECT_EQ(raw.Int("PRAGMA user_version"), Store::LatestSchemaVersion());
  EXPECT_EQ(raw.Text("PRAGMA journal_mode"), "wal");
  for (const char* view : {"v_results", "v_summary", "v_jobs_state"}) {
    EXPECT_EQ(
        raw.Int(std::string("SELECT count(*) FROM sqlite_master WHERE name = '") + view + "'"), 1)
        << view;
  }
  auto again = Store::Open(path, StoreOptions{});
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(*(*again)->SchemaVersion(), Store::LatestSchemaVersion());
}

// A schema migration and its views migration share a number (0009_call_errors_column.sql and
// 0009_call_errors_views.sql): both apply. Before, the second of a pair was skipped because the
// database already had the pair's version.
TEST(StoreOpen, AppliesEveryMigrationOfAVersion) {
  TempDir dir;
  const std::string path = dir.File("a.db");
  ASSERT_TRUE(Store::Open(path, StoreOptions{}).ok());
  RawDb raw(path);
  EXPECT_EQ(raw.Int("SELECT count(*) FROM pragma_table_info('calls')"
                    " WHERE name = 'prompt_truncated'"),
            1);
  EXPECT_EQ(raw.Exec("SELECT prompt_truncated FROM v_model_cost"), SQLITE_OK);
}

TEST(StoreOpen, RefusesNewerDatabase) {
  TempDir dir;
  const std::string path = dir.File("a.db");
  { ASSERT_TRUE(Store::Open(path, StoreOptions{}).ok()); }
  {
    RawDb raw(path);
    ASSERT_EQ(raw.Exec("PRAGMA user_version = " + std::to_string(Store::LatestSchemaVersion() + 1)),
              SQLITE_OK);
  }
  auto store = Store::Open(path, StoreOptions{});
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(store.status().message().find("newer"), std::string::npos);
  StoreOptions ro;
  ro.read_only = true;
  EXPECT_FALSE(Store::Open(path, ro).ok());
}

TEST(StoreOpen, RefusesForeignDatabaseAndGarbage) {
  TempDir dir;
  {
    sqlite3* db = nullptr;
    sqlite3_open(dir.File("other.db").c_str(), &db);
    sqlite3_exec(db, "CREATE TABLE t (x)", nullptr, nullptr, nullptr);
    sqlite3_close(db);
  }
  auto other = Store::Open(dir.File("other.db"), StoreOptions{});
  ASSERT_FALSE(other.ok());
  EXPECT_EQ(other.status().code(), StatusCode::kFailedPrecondition);

  std::ofstream(dir.File("junk.db")) << std::string(8192, 'x');
  auto junk = Store::Open(dir.File("junk.db"), StoreOptions{});
  ASSERT_FALSE(junk.ok());

  StoreOptions no_create;
  no_create.create = false;
  EXPECT_EQ(Store::Open(dir.File("missing.db"), no_create).status().code(), StatusCode::kNotFound);
  StoreOptions ro;
  ro.read_only = true;
  EXPECT_EQ(Store::Open(dir.File("missing2.db"), ro).status().code(), StatusCode::kNotFound);
}

TEST(StoreOpen, GroupCommitHidesWritesUntilCommit) {
  TempDir dir;
  const std::string path = dir.File("a.db");
  Fixture f = MakeFixture(path);
  ASSERT_TRUE(f.store->InsertCells(f.sweep_id, Cells(f.variant_id, 0, 3)).ok());
  ASSERT_TRUE(f.store->Commit().ok());
  StoreOptions ro;
  ro.read_only = true;
  auto reader = Store::Open(path, ro);
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();

  JobId job = (*f.store->FetchPending(kNow, JobId(0), 1))[0].job;
  LeaseToken lease = *f.store->LeaseJob(job, "w1", kNow + 1000);
  ASSERT_EQ(*f.store->CompleteJob(job, lease, Verdict(true), kNow, 0), CompleteResult::kAccepted);
  EXPECT_TRUE(f.store->has_pending_writes());
  // The writer sees its own writes; the reader does not, yet.
  EXPECT_EQ(*f.store->CountJobs(JobState::kDone, 0), 1);
  EXPECT_EQ(*(*reader)->CountJobs(JobState::kDone, 0), 0);
  EXPECT_EQ((*reader)->GetJob(job)->state, JobState::kPending);
  ASSERT_TRUE(f.store->Commit().ok());
  EXPECT_FALSE(f.store->has_pending_writes());
  EXPECT_EQ(*(*reader)->CountJobs(JobState::kDone, 0), 1);
  EXPECT_TRUE(f.store->Commit().ok());  // nothing pending: no-op
}

TEST(StoreOpen, ReadOnlyNeverWrites) {
  TempDir dir;
  const std::string path = dir.File("a.db");
  Fixture f = MakeFixture(path);
  ASSERT_TRUE(f.store->InsertCells(f.sweep_id, Cells(f.variant_id, 0, 2)).ok());
  ASSERT_TRUE(f.store->Commit().ok());
  StoreOptions ro;
  ro.read_only = true;
  auto reader = Store::Open(path, ro);
  ASSERT_TRUE(reader.ok());
  Store& r = **reader;
  EXPECT_EQ(r.InsertCells(f.sweep_id, Cells(f.variant_id, 5, 6)).status().code(),
            StatusCode::kFailedPrecondition);
  EXPECT_FALSE(r.LeaseJob(JobId(1), "w", kNow).ok());
  EXPECT_FALSE(r.UpsertSweep(SweepRecord{}).ok());
  EXPECT_FALSE(r.PutCall(StoredCall{}).ok());
  EXPECT_FALSE(r.has_pending_writes());
  EXPECT_EQ(r.FetchPending(kNow, JobId(0), 10)->size(), 2u);
  EXPECT_EQ(r.ListSweeps()->size(), 1u);
  auto variant = r.GetVariant(f.variant_id);
  ASSERT_TRUE(variant.ok());
  EXPECT_EQ(variant->model.id, "sim:default");
  // The writer keeps working while the reader is open.
  JobId job = (*f.store->FetchPending(kNow, JobId(0), 1))[0].job;
  ASSERT_TRUE(f.store->LeaseJob(job, "w1", kNow).ok());
  ASSERT_TRUE(f.store->Commit().ok());
  EXPECT_EQ(r.LeasedJobs()->size(), 1u);
}

TEST(StoreOpen, ReadOnlyWorksAfterWriterClosed) {
  TempDir dir;
  const std::string path = dir.File("a.db");
  {
    Fixture f = MakeFixture(path);
    ASSERT_TRUE(f.store->InsertCells(f.sweep_id, Cells(f.variant_id, 0, 4)).ok());
  }
  StoreOptions ro;
  ro.read_only = true;
  auto reader = Store::Open(path, ro);
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  EXPECT_EQ(*(*reader)->CountJobs(std::nullopt, 0), 4);
}

TEST(StoreOpen, StateCheckRejectsUnknownStates) {
  TempDir dir;
  const std::string path = dir.File("a.db");
  Fixture f = MakeFixture(path);
  ASSERT_TRUE(f.store->InsertCells(f.sweep_id, Cells(f.variant_id, 0, 1)).ok());
  ASSERT_TRUE(f.store->Commit().ok());
  RawDb raw(path);
  EXPECT_EQ(raw.Exec("UPDATE jobs SET state = 'running'") & 0xff, SQLITE_CONSTRAINT);
  EXPECT_EQ(raw.Exec("UPDATE jobs SET state = 'done'"), SQLITE_OK);
  // Every state the transition table names is accepted by the CHECK.
  for (JobState s : {JobState::kPending, JobState::kLeased, JobState::kDone, JobState::kFailed,
                     JobState::kDead}) {
    EXPECT_EQ(raw.Exec("UPDATE jobs SET state = '" + std::string(JobStateName(s)) + "'"), SQLITE_OK)
        << JobStateName(s);
  }
}

TEST(StoreOpen, FailedStepKeepsTheRestOfTheGroup) {
  TempDir dir;
  const std::string path = dir.File("a.db");
  Fixture f = MakeFixture(path);
  ASSERT_TRUE(f.store->InsertCells(f.sweep_id, Cells(f.variant_id, 0, 2)).ok());
  ASSERT_TRUE(f.store->Commit().ok());
  auto page = *f.store->FetchPending(kNow, JobId(0), 2);
  LeaseToken lease = *f.store->LeaseJob(page[0].job, "w1", kNow);
  // A cell pointing at a variant that does not exist fails (foreign key) as one step.
  auto bad = Cells(f.variant_id + 100, 10, 11);
  EXPECT_FALSE(f.store->InsertCells(f.sweep_id, bad).ok());
  ASSERT_TRUE(f.store->Commit().ok());
  EXPECT_EQ(f.store->GetJob(page[0].job)->lease, lease);
  EXPECT_EQ(*f.store->CountJobs(std::nullopt, 0), 2);
}

// Issue 20: store errors reached users with SQL text in them ("... [INSERT INTO jobs ...]").
// They name the database file instead; the statement goes to the store's log.
TEST(StoreOpen, ErrorsNameTheFileAndLogTheSql) {
  TempDir dir;
  const std::string path = dir.File("named.db");
  { Fixture f = MakeFixture(path); }
  std::FILE* log_file = std::tmpfile();
  ASSERT_NE(log_file, nullptr);
  Logger log(log_file, LogLevel::kDebug, "store");
  StoreOptions options;
  options.log = &log;
  auto store = Store::Open(path, options);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  Status s = (*store)->InsertCells(1, Cells(12345, 0, 1)).status();  // no such variant (FK)
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("named.db"), std::string::npos) << s.message();
  EXPECT_EQ(s.message().find("INSERT"), std::string::npos) << s.message();
  EXPECT_EQ(s.message().find("SELECT"), std::string::npos) << s.message();
  std::fflush(log_file);
  std::rewind(log_file);
  std::string logged;
  char buf[4096];
  for (size_t n; (n = std::fread(buf, 1, sizeof buf, log_file)) > 0;) logged.append(buf, n);
  std::fclose(log_file);
  EXPECT_NE(logged.find("[sql: "), std::string::npos) << logged;
  EXPECT_NE(logged.find("named.db"), std::string::npos) << logged;
}

TEST(StoreOpen, BusyDatabaseGivesUnavailableThenRecovers) {
  TempDir dir;
  const std::string path = dir.File("a.db");
  {
    Fixture f = MakeFixture(path);
    ASSERT_TRUE(f.store->InsertCells(f.sweep_id, Cells(f.variant_id, 0, 1)).ok());
  }
  StoreOptions options;
  options.busy_timeout_ms = 1;
  auto store = Store::Open(path, options);
  ASSERT_TRUE(store.ok());
  JobId job = (*(*store)->FetchPending(kNow, JobId(0), 1))[0].job;
  RawDb other(path);
  ASSERT_EQ(other.Exec("BEGIN IMMEDIATE"), SQLITE_OK);  // another writer holds the lock
  auto lease = (*store)->LeaseJob(job, "w1", kNow);
  ASSERT_FALSE(lease.ok());
  EXPECT_EQ(lease.status().code(), StatusCode::kUnavailable);
  EXPECT_FALSE((*store)->has_pending_writes());
  ASSERT_EQ(other.Exec("ROLLBACK"), SQLITE_OK);
  ASSERT_TRUE((*store)->LeaseJob(job, "w1", kNow).ok());
  EXPECT_TRUE((*store)->Commit().ok());
}

TEST(StoreCallCache, PutLookupClear) {
  TempDir dir;
  Fixture f = MakeFixture(dir.File("a.db"));
  EXPECT_FALSE(f.store->LookupCall("k1")->has_value());
  StoredCall c;
  c.call_key = "k1";
  c.provider = "sim";
  c.model = "default";
  c.response_json = "{\"text\":\"hi\"}";
  c.tokens_in = 3;
  c.tokens_out = 4;
  ASSERT_TRUE(f.store->PutCall(c).ok());
  StoredCall dup = c;
  dup.response_json = "{\"text\":\"other\"}";
  ASSERT_TRUE(f.store->PutCall(dup).ok());  // ignored: first answer wins
  auto got = f.store->LookupCall("k1");
  ASSERT_TRUE(got.ok());
  ASSERT_TRUE(got->has_value());
  EXPECT_EQ((*got)->response_json, c.response_json);
  EXPECT_EQ((*got)->tokens_out, 4);
  EXPECT_GT((*got)->created_ms, 0);
  EXPECT_EQ(*f.store->CountCalls(), 1);
  ASSERT_TRUE(f.store->ClearCalls().ok());
  EXPECT_EQ(*f.store->CountCalls(), 0);
  EXPECT_FALSE(f.store->LookupCall("k1")->has_value());
}

TEST(StoreWorkers, UpsertUpdatesLastSeen) {
  TempDir dir;
  const std::string path = dir.File("a.db");
  Fixture f = MakeFixture(path);
  WorkerRecord w;
  w.worker_id = "w1";
  w.host = "h";
  w.slots = 4;
  w.last_seen_ms = 10;
  ASSERT_TRUE(f.store->UpsertWorker(w).ok());
  w.last_seen_ms = 20;
  w.state = "lost";
  ASSERT_TRUE(f.store->UpsertWorker(w).ok());
  ASSERT_TRUE(f.store->Commit().ok());
  RawDb raw(path);
  EXPECT_EQ(raw.Int("SELECT first_seen_ms FROM workers WHERE worker_id = 'w1'"), 10);
  EXPECT_EQ(raw.Int("SELECT last_seen_ms FROM workers WHERE worker_id = 'w1'"), 20);
  EXPECT_EQ(raw.Text("SELECT state FROM workers WHERE worker_id = 'w1'"), "lost");
}

TEST(StoreViews, ResultsSummaryAndStates) {
  TempDir dir;
  const std::string path = dir.File("a.db");
  Fixture f = MakeFixture(path);
  ASSERT_TRUE(f.store->InsertCells(f.sweep_id, Cells(f.variant_id, 0, 4)).ok());
  auto page = *f.store->FetchPending(kNow, JobId(0), 3);
  for (int i = 0; i < 3; ++i) {
    LeaseToken l = *f.store->LeaseJob(page[i].job, "w1", kNow);
    ASSERT_EQ(*f.store->CompleteJob(page[i].job, l, Verdict(i != 1), kNow + i, 0),
              CompleteResult::kAccepted);
  }
  ASSERT_TRUE(f.store->Commit().ok());
  RawDb raw(path);
  EXPECT_EQ(raw.Int("SELECT count(*) FROM v_results"), 3);
  EXPECT_EQ(raw.Text("SELECT cell_key FROM v_results ORDER BY job_id LIMIT 1"),
            page[0].cell.value());
  EXPECT_EQ(raw.Text("SELECT model FROM v_results LIMIT 1"), "sim:default");
  EXPECT_EQ(raw.Int("SELECT calls FROM v_results LIMIT 1"), 1);
  EXPECT_EQ(raw.Int("SELECT n FROM v_summary"), 3);
  EXPECT_EQ(raw.Int("SELECT correct FROM v_summary"), 2);
  EXPECT_EQ(raw.Text("SELECT success_rate FROM v_summary"), "0.6667");
  EXPECT_EQ(raw.Int("SELECT done FROM v_jobs_state"), 3);
  EXPECT_EQ(raw.Int("SELECT pending FROM v_jobs_state"), 1);
  EXPECT_EQ(raw.Int("SELECT count(*) FROM calls"), 3);
  EXPECT_EQ(raw.Int("SELECT count(*) FROM executions"), 3);
  EXPECT_EQ(raw.Int("SELECT count(*) FROM attempts WHERE outcome = 'done'"), 3);
  // Results are unique per job even through raw SQL.
  EXPECT_EQ(raw.Exec("INSERT INTO results SELECT * FROM results LIMIT 1") & 0xff,
            SQLITE_CONSTRAINT);
}

}  // namespace
}  // namespace codesweep
