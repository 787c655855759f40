// Store: grid inserts, leases, fenced completion, requeue, attempt caps and retry.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <filesystem>
#include <string>
#include <vector>

#include "coordinator/store/report_queries.h"
#include "coordinator/store/store.h"
#include "store_test_util.h"

namespace codesweep {
namespace {

using testing_store::Cells;
using testing_store::Failure;
using testing_store::Fixture;
using testing_store::Key;
using testing_store::MakeFixture;
using testing_store::TempDir;
using testing_store::Verdict;

constexpr int64_t kNow = 1'700'000'000'000;

// SQLite's temp files ("etilqs_*", unlinked at once) this process has open.
int OpenSqliteTempFiles() {
  int n = 0;
  std::error_code ec;
  for (const auto& fd : std::filesystem::directory_iterator("/proc/self/fd", ec)) {
    std::error_code link_ec;
    if (std::filesystem::read_symlink(fd.path(), link_ec).string().find("etilqs") !=
        std::string::npos) {
      ++n;
    }
  }
  return n;
}

// Inserts `n` cells, commits them and reads them back as pending jobs.
std::vector<JobRow> PendingJobs(Fixture& f, int n) {
  EXPECT_TRUE(f.store->InsertCells(f.sweep_id, Cells(f.variant_id, 0, n)).ok());
  EXPECT_TRUE(f.store->Commit().ok());
  auto page = f.store->FetchPending(kNow, JobId(0), n);
  EXPECT_TRUE(page.ok()) << page.status().ToString();
  return page.ok() ? *page : std::vector<JobRow>{};
}

// Every store write is a SAVEPOINT inside the group transaction; the undo record of one that
// touches more than 64 KiB of pages used to spill to a temp file, after which every later
// operation of the transaction paid a pwrite per page it touched (issue 16, section 4).
TEST(StoreDispatch, SavepointUndoRecordsStayInMemory) {
  TempDir dir;
  Fixture f = MakeFixture(dir.File("a.db"));
  for (const JobRow& r : PendingJobs(f, 3000)) {
    ASSERT_TRUE(f.store->LeaseJob(r.job, "w1", kNow + 1000).ok());
  }
  ASSERT_TRUE(f.store->Commit().ok());
  // One operation that rewrites every job row (hundreds of pages), inside a group transaction.
  ASSERT_TRUE(f.store->ExtendAllLeases(kNow + 2000).ok());
  EXPECT_TRUE(f.store->has_pending_writes());
  EXPECT_EQ(OpenSqliteTempFiles(), 0);
  ASSERT_TRUE(f.store->Commit().ok());
}

// An undo record past the in-memory limit (4 MiB) still spills to a temp file, and the write
// succeeds. SQLite copies a spilling record to the file in writes of the limit's size, and the
// unix VFS cuts every write to its low 17 bits: with the 4 MiB limit alone such a write wrote
// 0 bytes and failed with SQLITE_FULL ("database or disk is full"), as the grid load's
// CREATE UNIQUE INDEX did (BENCHMARKS.md, issue 16 section 4).
TEST(StoreDispatch, UndoRecordPastTheMemoryLimitSpillsAndTheWriteSucceeds) {
  TempDir dir;
  Fixture f = MakeFixture(dir.File("a.db"));
  constexpr int kJobs = 50'000;
  ASSERT_TRUE(f.store->InsertCells(f.sweep_id, Cells(f.variant_id, 0, kJobs)).ok());
  ASSERT_TRUE(f.store->Commit().ok());
  auto other = f.store->UpsertVariant(testing_store::SimVariant("other"));
  ASSERT_TRUE(other.ok()) << other.status().ToString();
  // One operation that rewrites every job row and its index entries (thousands of pages).
  auto moved = f.store->RemapVariant(f.sweep_id, f.variant_id, *other);
  ASSERT_TRUE(moved.ok()) << moved.status().ToString();
  EXPECT_EQ(*moved, kJobs);
  EXPECT_GE(OpenSqliteTempFiles(), 1) << "the undo record stayed in memory: nothing tested";
  ASSERT_TRUE(f.store->Commit().ok());
  EXPECT_EQ(f.store->SweepVariants(f.sweep_id).value(), std::vector<int64_t>{*other});
}

// SQLite's own in-memory statement journal allocates its data in chunks as large as the spill
// threshold and frees them at every released savepoint: with the 4 MiB threshold each store write
// allocated 4 MiB (under ASan also poisoned it), which cost the sanitized coordinator 5x its CPU
// per job. The shim's journal buffer is reused instead.
TEST(StoreDispatch, StoreWritesAllocateNoJournalChunkEach) {
  TempDir dir;
  Fixture f = MakeFixture(dir.File("a.db"));
  const std::vector<JobRow> page = PendingJobs(f, 300);
  sqlite3_int64 current = 0, largest = 0;
  sqlite3_status64(SQLITE_STATUS_MALLOC_SIZE, &current, &largest, /*resetFlag=*/1);
  for (const JobRow& r : page) ASSERT_TRUE(f.store->LeaseJob(r.job, "w1", kNow + 1000).ok());
  ASSERT_TRUE(f.store->Commit().ok());
  sqlite3_status64(SQLITE_STATUS_MALLOC_SIZE, &current, &largest, /*resetFlag=*/0);
  EXPECT_LT(largest, 1 << 20) << "SQLite allocated " << largest << " bytes at once";
}

// The shim's in-memory journal is a real undo record: ROLLBACK TO restores every page, in memory
// and after it spilled to a temp file.
TEST(StoreDispatch, SavepointRollbackRestoresFromTheShimsJournal) {
  TempDir dir;
  Fixture f = MakeFixture(dir.File("a.db"));  // registers the shim
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open_v2(dir.File("raw.db").c_str(), &db,
                            SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, "codesweep"),
            SQLITE_OK);
  auto exec = [&](const std::string& sql) {
    char* err = nullptr;
    int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err);
    std::string message = err != nullptr ? err : "";
    sqlite3_free(err);
    return rc == SQLITE_OK ? std::string() : message;
  };
  auto total = [&] {
    sqlite3_stmt* st = nullptr;
    sqlite3_prepare_v2(db, "SELECT sum(length(v)) + sum(id) FROM t", -1, &st, nullptr);
    sqlite3_step(st);
    int64_t v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
  };
  ASSERT_EQ(exec("CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT);"
                 "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 60000)"
                 " INSERT INTO t SELECT i, printf('%0100d', i) FROM n;"),
            "");
  // Pages a transaction wrote before a savepoint go to the statement journal when the savepoint
  // writes them again.
  ASSERT_EQ(exec("BEGIN; UPDATE t SET v = v || '-';"), "");
  const int64_t before = total();
  ASSERT_EQ(exec("SAVEPOINT small; UPDATE t SET v = 'x' WHERE id <= 2000;"), "");
  EXPECT_EQ(OpenSqliteTempFiles(), 0);  // ~250 KiB of undo record: in memory
  ASSERT_EQ(exec("ROLLBACK TO small; RELEASE small;"), "");
  EXPECT_EQ(total(), before);
  ASSERT_EQ(exec("SAVEPOINT big; UPDATE t SET v = 'y';"), "");  // ~7 MiB: spills
  EXPECT_GE(OpenSqliteTempFiles(), 1) << "the undo record stayed in memory: nothing tested";
  ASSERT_EQ(exec("ROLLBACK TO big; RELEASE big; COMMIT;"), "");
  EXPECT_EQ(total(), before);
  sqlite3_close(db);
}

TEST(StoreDispatch, InsertCellsIsIdempotent) {
  TempDir dir;
  Fixture f = MakeFixture(dir.File("a.db"));
  auto first = f.store->InsertCells(f.sweep_id, Cells(f.variant_id, 0, 100));
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_EQ(*first, 100);
  auto again = f.store->InsertCells(f.sweep_id, Cells(f.variant_id, 0, 100));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, 0);
  auto more = f.store->InsertCells(f.sweep_id, Cells(f.variant_id, 50, 150));
  ASSERT_TRUE(more.ok());
  EXPECT_EQ(*more, 50);
  EXPECT_EQ(*f.store->CountJobs(std::nullopt, 0), 150);
  EXPECT_EQ(*f.store->CountJobs(JobState::kPending, f.sweep_id), 150);
  // Inserts join the group transaction; ExpandIntoStore commits them.
  EXPECT_TRUE(f.store->has_pending_writes());
  ASSERT_TRUE(f.store->Commit().ok());
  EXPECT_FALSE(f.store->has_pending_writes());
}

TEST(StoreDispatch, CellKeysRoundTripHexAndText) {
  TempDir dir;
  Fixture f = MakeFixture(dir.File("a.db"));
  auto cells = Cells(f.variant_id, 0, 2);
  cells[1].cell = CellKey("not-a-hash");
  ASSERT_TRUE(f.store->InsertCells(f.sweep_id, cells).ok());
  auto page = f.store->FetchPending(kNow, JobId(0), 10);
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->size(), 2u);
  EXPECT_EQ((*page)[0].cell, Key(0));
  EXPECT_EQ((*page)[1].cell, CellKey("not-a-hash"));
  EXPECT_EQ((*page)[0].task, "game24");
  EXPECT_EQ((*page)[0].variant_id, f.variant_id);
}

TEST(StoreDispatch, FetchPendingPagesByIdAndHonoursNotBefore) {
  TempDir dir;
  Fixture f = MakeFixture(dir.File("a.db"));
  ASSERT_TRUE(f.store->InsertCells(f.sweep_id, Cells(f.variant_id, 0, 25)).ok());
  std::vector<JobId> seen;
  JobId after(0);
  while (true) {
    auto page = f.store->FetchPending(kNow, after, 10);
    ASSERT_TRUE(page.ok());
    if (page->empty()) break;
    EXPECT_LE(page->size(), 10u);
    for (const JobRow& r : *page) seen.push_back(r.job);
    after = page->back().job;
  }
  ASSERT_EQ(seen.size(), 25u);
  for (size_t i = 1; i < seen.size(); ++i) EXPECT_LT(seen[i - 1], seen[i]);

  // A retried job with a back-off is skipped until its time.
  auto lease = f.store->LeaseJob(seen[0], "w1", kNow + 1000);
  ASSERT_TRUE(lease.ok());
  auto done = f.store->CompleteJob(seen[0], *lease, Failure(true, "timeout"), kNow, kNow + 5000);
  ASSERT_TRUE(done.ok());
  auto early = f.store->FetchPending(kNow, JobId(0), 1);
  ASSERT_TRUE(early.ok());
  EXPECT_EQ((*early)[0].job, seen[1]);
  auto later = f.store->FetchPending(kNow + 5000, JobId(0), 1);
  EXPECT_EQ((*later)[0].job, seen[0]);
}

TEST(StoreDispatch, LeaseAndCompleteRecordsEverything) {
  TempDir dir;
  Fixture f = MakeFixture(dir.File("a.db"));
  ASSERT_TRUE(f.store->InsertCells(f.sweep_id, Cells(f.variant_id, 0, 3)).ok());
  JobId job = (*f.store->FetchPending(kNow, JobId(0), 1))[0].job;
  auto lease = f.store->LeaseJob(job, "w1", kNow + 3000);
  ASSERT_TRUE(lease.ok()) << lease.status().ToString();
  auto row = f.store->GetJob(job);
  ASSERT_TRUE(row.ok());
  EXPECT_EQ(row->state, JobState::kLeased);
  EXPECT_EQ(row->lease, *lease);
  EXPECT_EQ(row->attempts, 1);
  EXPECT_EQ(row->worker, "w1");
  EXPECT_EQ(row->lease_until_ms, kNow + 3000);
  // Leasing twice is refused.
  EXPECT_EQ(f.store->LeaseJob(job, "w2", kNow).status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(f.store->LeaseJob(JobId(999), "w2", kNow).status().code(), StatusCode::kNotFound);

  auto res = f.store->CompleteJob(job, *lease, Verdict(true), kNow + 10, 0);
  ASSERT_TRUE(res.ok()) << res.status().ToString();
  EXPECT_EQ(*res, CompleteResult::kAccepted);
  ASSERT_TRUE(f.store->Commit().ok());
  EXPECT_EQ(f.store->GetJob(job)->state, JobState::kDone);
  EXPECT_EQ(*f.store->CountJobs(JobState::kDone, 0), 1);
  auto rows = f.store->StatusRows("");
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ((*rows)[0].done, 1);
  EXPECT_EQ((*rows)[0].pending, 2);
  EXPECT_EQ((*rows)[0].correct, 1);
  EXPECT_EQ((*rows)[0].last_finished_ms, kNow + 10);
}

// A transaction that changed nothing commits without writing: no WAL frame, so no fsync. Every
// commit used to empty the full-text backlog with a bare DELETE, whose truncate path rewrote
// the empty table's root page: the variant upsert of each `codesweep submit` and every group
// commit paid a WAL fsync for nothing (issue 16: a lone job's dispatch paid two). A stored
// variant's upsert opens no transaction at all.
TEST(StoreDispatch, CommitOfNothingWritesNoWalFrame) {
  TempDir dir;
  const std::string db = dir.File("a.db");
  Fixture f = MakeFixture(db);
  ASSERT_TRUE(f.store->InsertCells(f.sweep_id, Cells(f.variant_id, 0, 2)).ok());
  JobId job = (*f.store->FetchPending(kNow, JobId(0), 1))[0].job;
  auto lease = f.store->LeaseJob(job, "w1", kNow + 3000);
  ASSERT_TRUE(lease.ok()) << lease.status().ToString();
  // A result passes through the answer backlog, which this commit indexes and empties.
  ASSERT_TRUE(f.store->CompleteJob(job, *lease, Verdict(true), kNow + 10, 0).ok());
  ASSERT_TRUE(f.store->Commit().ok());
  const auto wal_size = std::filesystem::file_size(db + "-wal");
  ASSERT_GT(wal_size, 0u);
  // Cells stored already: the insert opens a write transaction and changes nothing.
  auto none = f.store->InsertCells(f.sweep_id, Cells(f.variant_id, 0, 2));
  ASSERT_TRUE(none.ok()) << none.status().ToString();
  EXPECT_EQ(*none, 0);
  EXPECT_TRUE(f.store->has_pending_writes());
  ASSERT_TRUE(f.store->Commit().ok());
  EXPECT_EQ(std::filesystem::file_size(db + "-wal"), wal_size);
  auto again = f.store->UpsertVariant(testing_store::SimVariant());
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(*again, f.variant_id);
  EXPECT_FALSE(f.store->has_pending_writes());
  // A real write still reaches the WAL.
  ASSERT_TRUE(f.store->InsertCells(f.sweep_id, Cells(f.variant_id, 2, 3)).ok());
  ASSERT_TRUE(f.store->Commit().ok());
  EXPECT_GT(std::filesystem::file_size(db + "-wal"), wal_size);
}

// The coordinator checkpoints the write-ahead log between loop turns once it holds 900 frames,
// so the commit that would reach SQLite's 1,000-frame threshold (and checkpoint, fsyncing the
// database) is rarely one a submitted job waits for. After that checkpoint the log starts over
// from its beginning: the next commit does not make the file grow.
TEST(StoreDispatch, CheckpointIfDueRestartsTheWalBeforeTheThreshold) {
  TempDir dir;
  const std::string db = dir.File("a.db");
  Fixture f = MakeFixture(db);
  EXPECT_FALSE(f.store->CheckpointIfDue());  // a few frames only
  auto frames = [&] {  // 4 KiB pages: a frame is the page and its 24-byte header
    return (std::filesystem::file_size(db + "-wal") - 32) / (4096 + 24);
  };
  int next = 0;
  while (frames() < 920) {  // each commit adds far fewer than 80 frames
    ASSERT_TRUE(f.store->InsertCells(f.sweep_id, Cells(f.variant_id, next, next + 50)).ok());
    ASSERT_TRUE(f.store->Commit().ok());
    next += 50;
    ASSERT_LT(frames(), 1000u);
  }
  const auto wal_size = std::filesystem::file_size(db + "-wal");
  EXPECT_TRUE(f.store->CheckpointIfDue());
  EXPECT_FALSE(f.store->CheckpointIfDue());  // done: the count starts again
  ASSERT_TRUE(f.store->InsertCells(f.sweep_id, Cells(f.variant_id, next, next + 1)).ok());
  ASSERT_TRUE(f.store->Commit().ok());
  EXPECT_EQ(std::filesystem::file_size(db + "-wal"), wal_size);
  EXPECT_EQ(*f.store->CountJobs(std::nullopt, f.sweep_id), next + 1);
}

TEST(StoreDispatch, FencingRejectsStaleAndDuplicateResults) {
  TempDir dir;
  Fixture f = MakeFixture(dir.File("a.db"));
  ASSERT_TRUE(f.store->InsertCells(f.sweep_id, Cells(f.variant_id, 0, 1)).ok());
  JobId job = (*f.store->FetchPending(kNow, JobId(0), 1))[0].job;
  LeaseToken first = *f.store->LeaseJob(job, "w1", kNow + 1000);

  // Wrong token: stale, nothing written.
  EXPECT_EQ(*f.store->CompleteJob(job, LeaseToken(first.value() + 100), Verdict(true), kNow, 0),
            CompleteResult::kStale);
  EXPECT_EQ(f.store->GetJob(job)->state, JobState::kLeased);

  // The lease expires and the job is requeued, then re-leased: the first worker's late result
  // is stale, the second's is accepted, and a duplicate of it is stale.
  auto expired = f.store->ExpiredLeases(kNow + 2000, 10);
  ASSERT_TRUE(expired.ok());
  ASSERT_EQ(expired->size(), 1u);
  EXPECT_EQ(*f.store->RequeueJob(job, first, "lease expired", 0), CompleteResult::kAccepted);
  EXPECT_EQ(*f.store->RequeueJob(job, first, "again", 0), CompleteResult::kStale);
  EXPECT_EQ(*f.store->CompleteJob(job, first, Verdict(true), kNow, 0), CompleteResult::kStale);
  LeaseToken second = *f.store->LeaseJob(job, "w2", kNow + 5000);
  EXPECT_GT(second, first);
  EXPECT_EQ(*f.store->CompleteJob(job, first, Verdict(false), kNow, 0), CompleteResult::kStale);
  EXPECT_EQ(*f.store->CompleteJob(job, second, Verdict(true), kNow, 0), CompleteResult::kAccepted);
  EXPECT_EQ(*f.store->CompleteJob(job, second, Verdict(true), kNow, 0), CompleteResult::kStale);
  EXPECT_EQ(*f.store->RenewLease(job, second, kNow + 9000), CompleteResult::kStale);
  ASSERT_TRUE(f.store->Commit().ok());
  auto rows = f.store->StatusRows("s1");
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ((*rows)[0].done, 1);
  EXPECT_EQ((*rows)[0].correct, 1);  // the second (correct) verdict, exactly once
}

TEST(StoreDispatch, RetryableFailuresEndDeadAfterMaxAttempts) {
  TempDir dir;
  Fixture f = MakeFixture(dir.File("a.db"), /*max_attempts=*/2);
  ASSERT_TRUE(f.store->InsertCells(f.sweep_id, Cells(f.variant_id, 0, 1)).ok());
  JobId job = (*f.store->FetchPending(kNow, JobId(0), 1))[0].job;
  LeaseToken l1 = *f.store->LeaseJob(job, "w1", kNow + 1000);
  EXPECT_EQ(*f.store->CompleteJob(job, l1, Failure(true, "503 first"), kNow, kNow + 10),
            CompleteResult::kAccepted);
  JobRow row = *f.store->GetJob(job);
  EXPECT_EQ(row.state, JobState::kPending);
  EXPECT_EQ(row.not_before_ms, kNow + 10);
  LeaseToken l2 = *f.store->LeaseJob(job, "w1", kNow + 1000);
  EXPECT_EQ(*f.store->CompleteJob(job, l2, Failure(true, "503 second"), kNow, kNow + 10),
            CompleteResult::kAccepted);
  EXPECT_EQ(f.store->GetJob(job)->state, JobState::kDead);
  ASSERT_TRUE(f.store->Commit().ok());
  EXPECT_EQ(*f.store->CountJobs(JobState::kDead, f.sweep_id), 1);

  // Explicit retry: back to pending with fresh attempts.
  auto retried = f.store->RetryFailed(f.sweep_id);
  ASSERT_TRUE(retried.ok());
  EXPECT_EQ(*retried, 1);
  row = *f.store->GetJob(job);
  EXPECT_EQ(row.state, JobState::kPending);
  EXPECT_EQ(row.attempts, 0);
  EXPECT_EQ(row.not_before_ms, 0);
}

// Regression (issue 20): a requeue (worker lost, lease expired, handed back) used to spend the
// attempt, so three lost workers made a cell dead that never failed. The attempt is given back.
TEST(StoreDispatch, RequeueGivesTheAttemptBack) {
  TempDir dir;
  Fixture f = MakeFixture(dir.File("a.db"), /*max_attempts=*/1);
  ASSERT_TRUE(f.store->InsertCells(f.sweep_id, Cells(f.variant_id, 0, 1)).ok());
  JobId job = (*f.store->FetchPending(kNow, JobId(0), 1))[0].job;
  for (int lost = 0; lost < 3; ++lost) {
    LeaseToken l = *f.store->LeaseJob(job, "w1", kNow + 1000);
    EXPECT_EQ(*f.store->RequeueJob(job, l, "worker lost", 0), CompleteResult::kAccepted);
    JobRow row = *f.store->GetJob(job);
    EXPECT_EQ(row.state, JobState::kPending);
    EXPECT_EQ(row.attempts, 0);
  }
  // Its one real attempt still counts: a retryable failure of the cell itself ends it.
  LeaseToken last = *f.store->LeaseJob(job, "w1", kNow + 1000);
  EXPECT_EQ(*f.store->CompleteJob(job, last, Failure(true, "503"), kNow, kNow + 10),
            CompleteResult::kAccepted);
  EXPECT_EQ(f.store->GetJob(job)->state, JobState::kDead);
}

// Lost workers spend no attempt, but a cell whose workers keep vanishing (it may be what kills
// them) is not retried forever: the 20th lost lease (max_attempts 1) makes it dead, saying why.
TEST(StoreDispatch, ACellThatKeepsLosingItsWorkerEndsDead) {
  TempDir dir;
  Fixture f = MakeFixture(dir.File("a.db"), /*max_attempts=*/1);
  ASSERT_TRUE(f.store->InsertCells(f.sweep_id, Cells(f.variant_id, 0, 1)).ok());
  JobId job = (*f.store->FetchPending(kNow, JobId(0), 1))[0].job;
  for (int lost = 1; lost < 20; ++lost) {
    LeaseToken l = *f.store->LeaseJob(job, "w1", kNow + 1000);
    ASSERT_EQ(*f.store->RequeueJob(job, l, "worker lost", 0), CompleteResult::kAccepted);
    ASSERT_EQ(f.store->GetJob(job)->state, JobState::kPending) << lost;
  }
  LeaseToken l = *f.store->LeaseJob(job, "w1", kNow + 1000);
  ASSERT_EQ(*f.store->RequeueJob(job, l, "worker lost", 0), CompleteResult::kAccepted);
  JobRow row = *f.store->GetJob(job);
  EXPECT_EQ(row.state, JobState::kDead);
  ASSERT_TRUE(f.store->Commit().ok());
  auto db = ReportDb::Open(dir.File("a.db"));
  ASSERT_TRUE(db.ok()) << db.status().message();
  auto error = (*db)->Query("SELECT last_error FROM jobs");
  ASSERT_TRUE(error.ok() && error->rows.size() == 1u);
  EXPECT_NE(error->rows[0][0]->find("lost its worker 20 times"), std::string::npos);
}

TEST(StoreDispatch, PermanentFailureIsFailedAndRetryable) {
  TempDir dir;
  Fixture f = MakeFixture(dir.File("a.db"));
  ASSERT_TRUE(f.store->InsertCells(f.sweep_id, Cells(f.variant_id, 0, 2)).ok());
  JobId job = (*f.store->FetchPending(kNow, JobId(0), 1))[0].job;
  LeaseToken l1 = *f.store->LeaseJob(job, "w1", kNow + 1000);
  EXPECT_EQ(*f.store->CompleteJob(job, l1, Failure(false, "401 unauthorized"), kNow, 0),
            CompleteResult::kAccepted);
  EXPECT_EQ(f.store->GetJob(job)->state, JobState::kFailed);
  EXPECT_EQ(*f.store->RetryFailed(f.sweep_id), 1);
  EXPECT_EQ(*f.store->RetryFailed(f.sweep_id), 0);
  EXPECT_EQ(*f.store->CountJobs(JobState::kPending, 0), 2);
}

TEST(StoreDispatch, LeasedJobsExtendAndExpire) {
  TempDir dir;
  Fixture f = MakeFixture(dir.File("a.db"));
  ASSERT_TRUE(f.store->InsertCells(f.sweep_id, Cells(f.variant_id, 0, 5)).ok());
  auto page = *f.store->FetchPending(kNow, JobId(0), 5);
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(f.store->LeaseJob(page[i].job, "w1", kNow + 100 * (i + 1)).ok());
  }
  EXPECT_EQ(f.store->LeasedJobs()->size(), 3u);
  auto expired = *f.store->ExpiredLeases(kNow + 250, 10);
  ASSERT_EQ(expired.size(), 2u);
  EXPECT_EQ(expired[0].job, page[0].job);
  EXPECT_EQ(f.store->ExpiredLeases(kNow + 250, 1)->size(), 1u);
  ASSERT_TRUE(f.store->ExtendAllLeases(kNow + 10'000).ok());
  EXPECT_TRUE(f.store->ExpiredLeases(kNow + 9'999, 10)->empty());
  LeaseToken l = f.store->GetJob(page[0].job)->lease;
  EXPECT_EQ(*f.store->RenewLease(page[0].job, l, kNow + 20'000), CompleteResult::kAccepted);
  EXPECT_EQ(f.store->ExpiredLeases(kNow + 15'000, 10)->size(), 2u);
  // Leased jobs are not pending.
  EXPECT_EQ(f.store->FetchPending(kNow, JobId(0), 10)->size(), 2u);
}

TEST(StoreDispatch, LeaseTokensAreMonotonicAcrossReopen) {
  TempDir dir;
  const std::string path = dir.File("a.db");
  LeaseToken last;
  {
    Fixture f = MakeFixture(path);
    ASSERT_TRUE(f.store->InsertCells(f.sweep_id, Cells(f.variant_id, 0, 4)).ok());
    auto page = *f.store->FetchPending(kNow, JobId(0), 4);
    for (int i = 0; i < 3; ++i) last = *f.store->LeaseJob(page[i].job, "w", kNow);
    ASSERT_TRUE(f.store->Commit().ok());
  }
  auto store = Store::Open(path, StoreOptions{});
  ASSERT_TRUE(store.ok());
  auto page = *(*store)->FetchPending(kNow, JobId(0), 1);
  ASSERT_EQ(page.size(), 1u);
  EXPECT_GT(*(*store)->LeaseJob(page[0].job, "w", kNow), last);
  EXPECT_EQ((*store)->LeasedJobs()->size(), 4u);
}

}  // namespace
}  // namespace codesweep

namespace codesweep {
namespace {

// Regression (issue 19): after an interrupted run `status` counted the leases nobody held as
// running, and took its rate over the whole run, so a stopped run still showed cells/s.
TEST(StoreStatus, LeasesOfGoneWorkersAreOrphanedAndTheRateIsRecent) {
  TempDir dir;
  Fixture f = MakeFixture(dir.File("a.db"));
  ASSERT_TRUE(f.store->InsertCells(f.sweep_id, Cells(f.variant_id, 0, 5)).ok());
  auto pending = *f.store->FetchPending(kNow, JobId(0), 5);
  ASSERT_EQ(pending.size(), 5u);
  ASSERT_TRUE(f.store->UpsertWorker({"live", "h", 1, 1, "[]", kNow, "up"}).ok());
  ASSERT_TRUE(f.store->UpsertWorker({"gone", "h", 2, 1, "[]", kNow, "gone"}).ok());
  ASSERT_TRUE(f.store->UpsertWorker({"silent", "h", 3, 1, "[]", kNow - 120'000, "up"}).ok());
  ASSERT_TRUE(f.store->LeaseJob(pending[0].job, "live", kNow + 60'000).ok());
  ASSERT_TRUE(f.store->LeaseJob(pending[1].job, "gone", kNow + 60'000).ok());
  ASSERT_TRUE(f.store->LeaseJob(pending[2].job, "silent", kNow + 60'000).ok());
  LeaseToken old_lease = *f.store->LeaseJob(pending[3].job, "live", kNow + 60'000);
  LeaseToken new_lease = *f.store->LeaseJob(pending[4].job, "live", kNow + 60'000);
  ASSERT_TRUE(
      f.store->CompleteJob(pending[3].job, old_lease, Verdict(true), kNow - 300'000, 0).ok());
  ASSERT_TRUE(f.store->CompleteJob(pending[4].job, new_lease, Verdict(true), kNow - 10, 0).ok());
  ASSERT_TRUE(f.store->Commit().ok());

  auto rows = f.store->StatusRows("", {}, kNow);
  ASSERT_TRUE(rows.ok()) << rows.status().ToString();
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ((*rows)[0].leased, 3);
  EXPECT_EQ((*rows)[0].orphaned, 2);  // "gone" and "silent" hold leases nobody runs
  EXPECT_EQ((*rows)[0].done, 2);
  EXPECT_EQ((*rows)[0].recent, 1);  // only the result of the last minute

  ReadFilter other_task;
  other_task.task = "boxlift,blocksworld";
  auto none = f.store->StatusRows("", other_task, kNow);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
}

}  // namespace
}  // namespace codesweep
