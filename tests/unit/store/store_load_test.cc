// Store: grid loads (BeginCellLoad / FinishCellLoad) and the migration that made them possible
// (0004: the cell-key uniqueness as the named index jobs_cell_key).
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <string>

#include "coordinator/store/report_queries.h"
#include "coordinator/store/store.h"
#include "coordinator/store/store_impl.h"
#include "coordinator/store/store_sql.h"
#include "store_test_util.h"

namespace codesweep {
namespace {

using testing_store::Cells;
using testing_store::Fixture;
using testing_store::Key;
using testing_store::MakeFixture;
using testing_store::TempDir;

constexpr int64_t kNow = 1'700'000'000'000;

// Runs SQL on a second connection and returns the first column of the first row as text.
std::string Query(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr), SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  EXPECT_EQ(sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr), SQLITE_OK) << sql;
  std::string out;
  if (stmt != nullptr && sqlite3_step(stmt) == SQLITE_ROW) {
    const unsigned char* text = sqlite3_column_text(stmt, 0);
    if (text != nullptr) out = reinterpret_cast<const char*>(text);
  }
  sqlite3_finalize(stmt);
  sqlite3_close_v2(db);
  return out;
}

int Exec(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr), SQLITE_OK);
  int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr);
  sqlite3_close_v2(db);
  return rc;
}

std::string JobIndexes(const std::string& path) {
  return Query(path,
               "SELECT group_concat(name, ',') FROM (SELECT name FROM sqlite_schema"
               " WHERE type = 'index' AND tbl_name = 'jobs' ORDER BY name)");
}

constexpr const char* kAllJobIndexes =
    "jobs_cell_key,jobs_leased,jobs_parked,jobs_pending,jobs_report,jobs_unfinished_error,"
    "jobs_view_error,jobs_view_pair";
// After a load into an empty table, until the sweep is done (Store::BuildReportIndexes).
// jobs_unfinished_error and jobs_view_error (jobs with an error only) are empty after a load, so
// they are built with it.
constexpr const char* kLoadJobIndexes =
    "jobs_cell_key,jobs_leased,jobs_parked,jobs_pending,jobs_unfinished_error,jobs_view_error";

TEST(StoreLoad, LoadIntoEmptyTableBuildsEveryIndexAtTheEnd) {
  TempDir dir;
  const std::string path = dir.File("a.db");
  Fixture f = MakeFixture(path);
  ASSERT_TRUE(f.store->BeginCellLoad().ok());
  for (int from = 0; from < 3000; from += 1000) {
    auto n = f.store->InsertCells(f.sweep_id, Cells(f.variant_id, from, from + 1000));
    ASSERT_TRUE(n.ok()) << n.status().ToString();
    EXPECT_EQ(*n, 1000);
  }
  auto duplicates = f.store->FinishCellLoad();
  ASSERT_TRUE(duplicates.ok()) << duplicates.status().ToString();
  EXPECT_EQ(*duplicates, 0);
  ASSERT_TRUE(f.store->Commit().ok());
  EXPECT_EQ(JobIndexes(path), kLoadJobIndexes);
  EXPECT_EQ(Query(path, "SELECT value FROM meta WHERE key = 'later_index/jobs_report'"),
            "CREATE INDEX jobs_report ON jobs (sweep_id, variant_id, task, method, turns, "
            "complexity)");
  auto built = f.store->BuildReportIndexes();
  ASSERT_TRUE(built.ok()) << built.status().ToString();
  EXPECT_EQ(*built, 2);  // jobs_report and jobs_view_pair
  ASSERT_TRUE(f.store->Commit().ok());
  EXPECT_EQ(JobIndexes(path), kAllJobIndexes);
  EXPECT_EQ(Query(path, "SELECT count(*) FROM meta WHERE key LIKE 'later_index/%'"), "0");
  EXPECT_EQ(*f.store->BuildReportIndexes(), 0);
  EXPECT_EQ(Query(path, "PRAGMA integrity_check"), "ok");
  // The unique index is back: the same cells are ignored, dispatch pages in grid order.
  auto again = f.store->InsertCells(f.sweep_id, Cells(f.variant_id, 0, 3000));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, 0);
  auto page = f.store->FetchPending(kNow, JobId(0), 5);
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  ASSERT_EQ(page->size(), 5u);
  for (int i = 0; i < 5; ++i) EXPECT_EQ((*page)[i].cell, Key(i));
}

TEST(StoreLoad, DuplicateCellsInOneLoadKeepTheFirst) {
  TempDir dir;
  const std::string path = dir.File("a.db");
  Fixture f = MakeFixture(path);
  ASSERT_TRUE(f.store->BeginCellLoad().ok());
  auto cells = Cells(f.variant_id, 0, 10);
  auto repeat = Cells(f.variant_id, 5, 10);  // keys 5..9 again, with other samples
  for (auto& c : repeat) c.sample += 100;
  ASSERT_TRUE(f.store->InsertCells(f.sweep_id, cells).ok());
  ASSERT_TRUE(f.store->InsertCells(f.sweep_id, repeat).ok());
  auto duplicates = f.store->FinishCellLoad();
  ASSERT_TRUE(duplicates.ok()) << duplicates.status().ToString();
  EXPECT_EQ(*duplicates, 5);
  ASSERT_TRUE(f.store->Commit().ok());
  EXPECT_EQ(*f.store->CountJobs(std::nullopt, 0), 10);
  EXPECT_EQ(Query(path, "SELECT max(sample) FROM jobs"), "9");
  EXPECT_EQ(JobIndexes(path), kLoadJobIndexes);
}

TEST(StoreLoad, CommitFinishesAnOpenLoad) {
  TempDir dir;
  const std::string path = dir.File("a.db");
  Fixture f = MakeFixture(path);
  ASSERT_TRUE(f.store->BeginCellLoad().ok());
  ASSERT_TRUE(f.store->InsertCells(f.sweep_id, Cells(f.variant_id, 0, 100)).ok());
  ASSERT_TRUE(f.store->Commit().ok());  // no FinishCellLoad: Commit builds the indexes itself
  EXPECT_EQ(JobIndexes(path), kLoadJobIndexes);
  EXPECT_EQ(Query(path, "SELECT count(*) FROM jobs"), "100");
}

TEST(StoreLoad, LoadIntoTableWithJobsKeepsTheIndexes) {
  TempDir dir;
  const std::string path = dir.File("a.db");
  Fixture f = MakeFixture(path);
  ASSERT_TRUE(f.store->InsertCells(f.sweep_id, Cells(f.variant_id, 0, 10)).ok());
  ASSERT_TRUE(f.store->Commit().ok());
  ASSERT_TRUE(f.store->BeginCellLoad().ok());
  auto n = f.store->InsertCells(f.sweep_id, Cells(f.variant_id, 5, 20));
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 10);  // 5..9 were there and are ignored row by row
  auto duplicates = f.store->FinishCellLoad();
  ASSERT_TRUE(duplicates.ok());
  EXPECT_EQ(*duplicates, 0);
  ASSERT_TRUE(f.store->Commit().ok());
  EXPECT_EQ(*f.store->CountJobs(std::nullopt, 0), 20);
  EXPECT_EQ(JobIndexes(path), kAllJobIndexes);
}

TEST(StoreLoad, AnAbandonedLoadLeavesNothingBehind) {
  TempDir dir;
  const std::string path = dir.File("a.db");
  {
    Fixture f = MakeFixture(path);
    ASSERT_TRUE(f.store->BeginCellLoad().ok());
    ASSERT_TRUE(f.store->InsertCells(f.sweep_id, Cells(f.variant_id, 0, 100)).ok());
    // The process dies here: nothing of the load was committed.
    sqlite3* raw = nullptr;
    ASSERT_EQ(sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
    sqlite3_stmt* stmt = nullptr;
    ASSERT_EQ(sqlite3_prepare_v2(raw,
                                 "SELECT count(*) FROM sqlite_schema WHERE type = 'index'"
                                 " AND tbl_name = 'jobs'",
                                 -1, &stmt, nullptr),
              SQLITE_OK);
    ASSERT_EQ(sqlite3_step(stmt), SQLITE_ROW);
    EXPECT_EQ(sqlite3_column_int(stmt, 0), 8);  // other connections see all 8 (kAllJobIndexes)
    sqlite3_finalize(stmt);
    sqlite3_close_v2(raw);
  }
}

TEST(StoreLoad, CountJobStatesAgreesWithCountJobs) {
  TempDir dir;
  Fixture f = MakeFixture(dir.File("a.db"));
  ASSERT_TRUE(f.store->InsertCells(f.sweep_id, Cells(f.variant_id, 0, 20)).ok());
  auto page = f.store->FetchPending(kNow, JobId(0), 3);
  ASSERT_TRUE(page.ok());
  for (const JobRow& row : *page) ASSERT_TRUE(f.store->LeaseJob(row.job, "w", kNow + 1000).ok());
  auto lease = f.store->GetJob((*page)[0].job);
  ASSERT_TRUE(lease.ok());
  ASSERT_TRUE(
      f.store->CompleteJob(lease->job, lease->lease, testing_store::Verdict(true), kNow, 0).ok());
  ASSERT_TRUE(f.store->Commit().ok());
  for (int64_t sweep : {int64_t{0}, f.sweep_id, f.sweep_id + 1}) {
    auto c = f.store->CountJobStates(sweep);
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    EXPECT_EQ(c->total, *f.store->CountJobs(std::nullopt, sweep));
    EXPECT_EQ(c->pending, *f.store->CountJobs(JobState::kPending, sweep));
    EXPECT_EQ(c->leased, *f.store->CountJobs(JobState::kLeased, sweep));
    EXPECT_EQ(c->done, *f.store->CountJobs(JobState::kDone, sweep));
    EXPECT_EQ(c->failed + c->dead, 0);
  }
  EXPECT_EQ(f.store->CountJobStates(f.sweep_id)->done, 1);
  EXPECT_EQ(f.store->CountJobStates(f.sweep_id)->leased, 2);
}

// A database at schema version 3 (jobs.cell_key UNIQUE inline) with a job, an attempt and a
// result migrates to the named unique index with its rows, foreign keys and views intact.
TEST(StoreLoad, MigratesVersionThreeJobsTable) {
  TempDir dir;
  const std::string path = dir.File("old.db");
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
    for (const store_sql::Migration& m : store_sql::kMigrations) {
      if (m.version > 3) break;
      ASSERT_EQ(sqlite3_exec(db, m.sql, nullptr, nullptr, nullptr), SQLITE_OK) << m.name;
    }
    const char* rows =
        "PRAGMA user_version = 3;"
        "INSERT INTO sweeps (id, name, seed, created_ms, updated_ms) VALUES (1, 's', 1, 0, 0);"
        "INSERT INTO variants (id, content_hash, model, provider, model_name, created_ms)"
        " VALUES (1, 'h', 'sim:x', 'sim', 'x', 0);"
        "INSERT INTO jobs (id, cell_key, sweep_id, task, complexity, sample, variant_id, method,"
        " turns, state, attempts, lease_token, created_ms, updated_ms)"
        " VALUES (1, x'01', 1, 'game24', '4', 0, 1, 'only_question', 1, 'done', 1, 1, 0, 0),"
        "        (2, x'02', 1, 'game24', '4', 1, 1, 'only_question', 1, 'pending', 0, 0, 0, 0);"
        "INSERT INTO attempts (lease_token, job_id, attempt, worker, started_ms, lease_until_ms)"
        " VALUES (1, 1, 1, 'w', 0, 0);";
    char* err = nullptr;
    ASSERT_EQ(sqlite3_exec(db, rows, nullptr, nullptr, &err), SQLITE_OK) << (err ? err : "");
    sqlite3_close(db);
  }
  // Read-only tools may skip the migrations readers cannot see (index, writer, column and
  // new-table ones): status and reports work before them, unless a later migration changes tables
  // that readers read: then they ask for one read-write open first.
  bool readers_may_skip = true;
  for (const store_sql::Migration& m : store_sql::kMigrations) {
    const std::string_view name = m.name;
    if (m.version > 3 && !MigrationInvisibleToReaders(name) && !name.ends_with("views.sql")) {
      readers_may_skip = false;
    }
  }
  if (!readers_may_skip) {
    StoreOptions read_only;
    read_only.read_only = true;
    auto reader = Store::Open(path, read_only);
    ASSERT_FALSE(reader.ok());
    EXPECT_NE(reader.status().message().find("open it once without read-only"), std::string::npos);
  } else {
    StoreOptions read_only;
    read_only.read_only = true;
    auto reader = Store::Open(path, read_only);
    ASSERT_TRUE(reader.ok()) << reader.status().ToString();
    EXPECT_EQ(*(*reader)->CountJobs(JobState::kDone, 0), 1);
    auto report = ReportDb::Open(path);
    ASSERT_TRUE(report.ok()) << report.status().ToString();
    auto table = (*report)->Query("SELECT count(*) FROM v_jobs_state");
    ASSERT_TRUE(table.ok()) << table.status().ToString();
    EXPECT_EQ(Query(path, "PRAGMA user_version"), "3");
  }
  auto store = Store::Open(path, StoreOptions{});
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  EXPECT_EQ(*(*store)->SchemaVersion(), Store::LatestSchemaVersion());
  EXPECT_EQ(JobIndexes(path), kAllJobIndexes);
  EXPECT_EQ(
      Query(path, "SELECT count(*) FROM sqlite_schema WHERE name LIKE 'sqlite_autoindex_jobs%'"),
      "0");
  EXPECT_EQ(Query(path, "SELECT group_concat(state) FROM (SELECT state FROM jobs ORDER BY id)"),
            "done,pending");
  EXPECT_EQ(Query(path, "SELECT count(*) FROM v_results"), "0");  // the views still resolve
  EXPECT_EQ(Query(path, "SELECT count(*) FROM attempts JOIN jobs ON jobs.id = attempts.job_id"),
            "1");
  EXPECT_EQ(Query(path, "PRAGMA foreign_key_check"), "");
  EXPECT_EQ(Query(path, "PRAGMA integrity_check"), "ok");
  // Still one job per cell key.
  EXPECT_EQ(Exec(path,
                 "INSERT INTO jobs (cell_key, sweep_id, task, complexity, sample, variant_id,"
                 " method, turns, created_ms, updated_ms)"
                 " VALUES (x'01', 1, 'game24', '4', 9, 1, 'only_question', 1, 0, 0)"),
            SQLITE_CONSTRAINT);
  // The foreign keys are enforced again on the store's connection.
  auto page = (*store)->FetchPending(kNow, JobId(0), 10);
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  ASSERT_EQ(page->size(), 1u);
  EXPECT_EQ((*page)[0].job, JobId(2));
  CellRow orphan;
  orphan.cell = CellKey(Sha256Hex("orphan"));
  orphan.task = "game24";
  orphan.complexity = "4";
  orphan.variant_id = 99;  // no such variant
  orphan.method = "only_question";
  EXPECT_FALSE((*store)->InsertCells(1, {orphan}).ok());
}

// A database at schema version 17 (before batch mode's 0018 rebuilt jobs for the state `parked`)
// whose job runs a declared method (method_template_id != 0) upgrades to the latest version with
// that value, its rows and every index it had (plus jobs_parked).
TEST(StoreLoad, MigratesVersionSeventeenKeepingMethodTemplateAndIndexes) {
  TempDir dir;
  const std::string path = dir.File("v17.db");
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
    // As the migration runner does around table rebuilds (coordinator/store/store_impl.h).
    ASSERT_EQ(sqlite3_exec(db, "PRAGMA foreign_keys = OFF; PRAGMA legacy_alter_table = ON;",
                           nullptr, nullptr, nullptr),
              SQLITE_OK);
    for (const store_sql::Migration& m : store_sql::kMigrations) {
      if (m.version > 17) break;
      ASSERT_EQ(sqlite3_exec(db, m.sql, nullptr, nullptr, nullptr), SQLITE_OK) << m.name;
    }
    const char* rows =
        "PRAGMA user_version = 17;"
        "INSERT INTO sweeps (id, name, seed, created_ms, updated_ms) VALUES (1, 's', 1, 0, 0);"
        "INSERT INTO variants (id, content_hash, model, provider, model_name, created_ms)"
        " VALUES (1, 'h', 'sim:x', 'sim', 'x', 0);"
        "INSERT INTO jobs (id, cell_key, sweep_id, task, complexity, sample, variant_id, method,"
        " turns, state, attempts, lease_token, created_ms, updated_ms, last_error,"
        " method_template_id)"
        " VALUES (1, x'01', 1, 'game24', '4', 0, 1, 'mine', 1, 'failed', 1, 1, 0, 0, 'boom', 7),"
        "        (2, x'02', 1, 'game24', '4', 1, 1, 'only_question', 1, 'pending', 0, 0, 0, 0,"
        " '', 0);"
        "INSERT INTO attempts (lease_token, job_id, attempt, worker, started_ms, lease_until_ms,"
        " outcome) VALUES (1, 1, 1, 'w', 0, 0, 'failed');";
    char* err = nullptr;
    ASSERT_EQ(sqlite3_exec(db, rows, nullptr, nullptr, &err), SQLITE_OK) << (err ? err : "");
    sqlite3_close(db);
  }
  const std::string all_indexes_sql =
      "SELECT group_concat(name, ',') FROM (SELECT name FROM sqlite_schema WHERE type = 'index'"
      " AND name NOT LIKE 'sqlite_autoindex%' ORDER BY name)";
  const std::string before = Query(path, all_indexes_sql);
  const std::string jobs_before = JobIndexes(path);
  ASSERT_FALSE(jobs_before.empty());
  auto store = Store::Open(path, StoreOptions{});
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  EXPECT_EQ(*(*store)->SchemaVersion(), Store::LatestSchemaVersion());
  EXPECT_GE(Store::LatestSchemaVersion(), 18);
  EXPECT_EQ(Query(path, "SELECT method_template_id FROM jobs WHERE id = 1"), "7");
  EXPECT_EQ(Query(path, "SELECT method_template_id FROM jobs WHERE id = 2"), "0");
  EXPECT_EQ(Query(path,
                  "SELECT group_concat(state || ':' || last_error) FROM"
                  " (SELECT state, last_error FROM jobs ORDER BY id)"),
            "failed:boom,pending:");
  EXPECT_EQ(Query(path, "SELECT outcome FROM attempts WHERE lease_token = 1"), "failed");
  // Every index of version 17 is still there, and the jobs table has all of its indexes.
  const std::string after = "," + Query(path, all_indexes_sql) + ",";
  std::string name;
  for (char c : before + ",") {
    if (c != ',') {
      name += c;
      continue;
    }
    if (!name.empty()) {
      EXPECT_NE(after.find("," + name + ","), std::string::npos) << name;
    }
    name.clear();
  }
  EXPECT_EQ(JobIndexes(path), kAllJobIndexes);
  EXPECT_EQ(Query(path, "PRAGMA foreign_key_check"), "");
  EXPECT_EQ(Query(path, "PRAGMA integrity_check"), "ok");
  // The new state is accepted; the old ones are kept.
  EXPECT_EQ(Exec(path, "UPDATE jobs SET state = 'parked' WHERE id = 2"), SQLITE_OK);
}

}  // namespace
}  // namespace codesweep
