// Store: batch mode's parked cells as the budget and `codesweep batches cancel` see them
// (docs/batch.md): a parked cell is unfinished, and a batch the user cancelled fails the cells
// waiting for its unanswered requests (retryable) while its answers are kept.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include "coordinator/store/report_queries.h"
#include "coordinator/store/store.h"
#include "store_test_util.h"

namespace codesweep {
namespace {

using testing_store::Cells;
using testing_store::Fixture;
using testing_store::MakeFixture;
using testing_store::TempDir;

constexpr int64_t kNow = 1'700'000'000'000;

// One integer read with a connection of its own (columns BatchRow does not carry).
int64_t QueryInt(const std::string& path, const char* sql) {
  sqlite3* db = nullptr;
  int64_t out = -1;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v2(db, sql, -1, &s, nullptr) == SQLITE_OK &&
        sqlite3_step(s) == SQLITE_ROW) {
      out = sqlite3_column_int64(s, 0);
    }
    sqlite3_finalize(s);
  }
  sqlite3_close_v2(db);
  return out;
}

// Leases the next pending job and parks it on `call_key` with its request queued.
JobId Park(Store& store, int64_t sweep_id, const std::string& call_key) {
  std::vector<JobRow> rows = *store.FetchPending(kNow, JobId(0), 1);
  EXPECT_EQ(rows.size(), 1u);
  JobId job = rows[0].job;
  BatchRequestRow r;
  r.call_key = call_key;
  r.provider = "openai";
  r.model = "m";
  r.key_alias = "default";
  r.sweep_id = sweep_id;
  r.body = "{}";
  r.queued_ms = kNow;
  EXPECT_TRUE(store.QueueBatchRequest(r).ok());
  LeaseToken l = *store.LeaseJob(job, "w1", kNow + 1000);
  Outcome parked;
  parked.parked = true;
  parked.parked_on = call_key;
  EXPECT_EQ(*store.CompleteJob(job, l, parked, kNow, kNow), CompleteResult::kAccepted);
  return job;
}

// Regression: the budget check counted pending and leased cells only, so a sweep whose other
// cells all waited in batches stopped as if nothing could run any more.
TEST(StoreBatch, ParkedCellsAreUnfinishedForBudgets) {
  TempDir dir;
  Fixture f = MakeFixture(dir.File("a.db"));
  ASSERT_TRUE(f.store->InsertCells(f.sweep_id, Cells(f.variant_id, 0, 2)).ok());
  Park(*f.store, f.sweep_id, "k1");
  Park(*f.store, f.sweep_id, "k2");
  ASSERT_TRUE(f.store->Commit().ok());
  EXPECT_EQ(f.store->CountJobStates(f.sweep_id)->parked, 2);
  auto left = f.store->UnfinishedByModel(f.sweep_id);
  ASSERT_TRUE(left.ok()) << left.status().ToString();
  ASSERT_EQ(left->size(), 1u);
  EXPECT_EQ((*left)[0].second, 2);
}

TEST(StoreBatch, UserCancelKeepsAnswersAndFailsTheCellsOfTheRest) {
  TempDir dir;
  Fixture f = MakeFixture(dir.File("a.db"));
  ASSERT_TRUE(f.store->InsertCells(f.sweep_id, Cells(f.variant_id, 0, 2)).ok());
  JobId answered = Park(*f.store, f.sweep_id, "k1");
  JobId waiting = Park(*f.store, f.sweep_id, "k2");
  BatchRow b;
  b.provider = "openai";
  b.model = "m";
  b.key_alias = "default";
  b.sweep_id = f.sweep_id;
  b.created_ms = kNow;
  auto id = f.store->CreateBatch(b, {"k1", "k2"});
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  b.id = *id;
  b.provider_id = "batch_1";
  b.state = "in_progress";
  ASSERT_TRUE(f.store->UpdateBatch(b).ok());
  // Marked once, and only live batches of the sweep.
  auto marked = f.store->RequestBatchCancel(f.sweep_id, kNow + 5);
  ASSERT_TRUE(marked.ok()) << marked.status().ToString();
  ASSERT_EQ(marked->size(), 1u);
  EXPECT_EQ((*marked)[0].cancel_requested_ms, kNow + 5);
  EXPECT_EQ((*f.store->RequestBatchCancel(f.sweep_id, kNow + 9))[0].cancel_requested_ms, kNow + 5);
  EXPECT_TRUE(f.store->RequestBatchCancel(f.sweep_id + 1, kNow)->empty());

  BatchAnswer ok;
  ok.call_key = "k1";
  ok.ok = true;
  ok.http_status = 200;
  ok.call = StoredCall{"k1", "openai", "m", R"({"text":"hi"})", 1, 1, kNow};
  int64_t failed = 0;
  auto unparked = f.store->EndBatch(b.id, {ok}, kNow + 10, true, "cancelled by the user", &failed);
  ASSERT_TRUE(unparked.ok()) << unparked.status().ToString();
  ASSERT_TRUE(f.store->Commit().ok());
  EXPECT_EQ(*unparked, 1);
  EXPECT_EQ(failed, 1);
  EXPECT_EQ(f.store->GetJob(answered)->state, JobState::kPending);
  EXPECT_EQ(f.store->GetJob(waiting)->state, JobState::kFailed);
  auto report = ReportDb::Open(dir.File("a.db"));
  ASSERT_TRUE(report.ok());
  auto t =
      (*report)->Query("SELECT last_error FROM jobs WHERE id = " + std::to_string(waiting.value()));
  ASSERT_TRUE(t.ok() && t->rows.size() == 1 && t->rows[0][0]);
  EXPECT_EQ(*t->rows[0][0], "cancelled by the user");
  // The answer is kept; the cancelled request is forgotten, so a retry queues it anew.
  EXPECT_TRUE(f.store->LookupCall("k1")->has_value());
  EXPECT_EQ(f.store->GetBatchRequest("k1")->value().state, "done");
  EXPECT_FALSE(f.store->GetBatchRequest("k2")->has_value());
  EXPECT_EQ(*f.store->CountQueuedBatchRequests(f.sweep_id), 0);
  auto n = f.store->RetryCells(f.sweep_id, RetryFilter{});
  ASSERT_TRUE(n.ok()) << n.status().ToString();
  EXPECT_EQ(*n, 1);
  EXPECT_EQ(f.store->GetJob(waiting)->state, JobState::kPending);
}

// A provider that refuses every upload (a queue limit, or no connection) is tried every
// batch_poll_s: consecutive refusals of one bucket are one `refused` row with a count, not a row
// per try; a batch that was made ends the run, and the next refusal starts a new row.
TEST(StoreBatch, ConsecutiveRefusalsAreFoldedIntoOneRow) {
  TempDir dir;
  Fixture f = MakeFixture(dir.File("a.db"));
  ASSERT_TRUE(f.store->InsertCells(f.sweep_id, Cells(f.variant_id, 0, 1)).ok());
  Park(*f.store, f.sweep_id, "k1");
  auto refuse = [&](int64_t at) {
    BatchRow b;
    b.provider = "openai";
    b.model = "m";
    b.key_alias = "default";
    b.sweep_id = f.sweep_id;
    b.created_ms = at;
    b.id = *f.store->CreateBatch(b, {"k1"});
    b.state = "refused";
    b.error = "HTTP 429 #" + std::to_string(at);
    b.ended_ms = at;
    EXPECT_TRUE(f.store->UpdateBatch(b).ok());
    EXPECT_EQ(*f.store->RequeueBatchRequests(b.id), 1);
    return std::make_pair(b.id, *f.store->FoldRefusedBatch(b));
  };
  auto [first, into1] = refuse(kNow);
  EXPECT_EQ(into1, first);  // nothing before it: its own row
  for (int i = 1; i <= 5; ++i) {
    auto [id, into] = refuse(kNow + i);
    EXPECT_NE(id, first);
    EXPECT_EQ(into, first);
  }
  ASSERT_TRUE(f.store->Commit().ok());
  std::vector<BatchRow> rows = *f.store->ListBatches(f.sweep_id, 100);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].state, "refused");
  EXPECT_EQ(rows[0].error, "HTTP 429 #" + std::to_string(kNow + 5));
  EXPECT_EQ(rows[0].ended_ms, kNow + 5);
  EXPECT_EQ(QueryInt(dir.File("a.db"), "SELECT refusals FROM batches"), 6);
  EXPECT_EQ(f.store->GetBatchRequest("k1")->value().state, "queued");
  // A batch that was made ends the run of refusals.
  BatchRow made;
  made.provider = "openai";
  made.model = "m";
  made.key_alias = "default";
  made.sweep_id = f.sweep_id;
  made.id = *f.store->CreateBatch(made, {"k1"});
  made.state = "in_progress";
  made.provider_id = "batch_1";
  ASSERT_TRUE(f.store->UpdateBatch(made).ok());
  ASSERT_TRUE(f.store->EndBatch(made.id, {}, kNow + 10).ok());  // unanswered: queued again
  auto [later, into2] = refuse(kNow + 20);
  EXPECT_EQ(into2, later);
  ASSERT_TRUE(f.store->Commit().ok());
  EXPECT_EQ(f.store->ListBatches(f.sweep_id, 100)->size(), 3u);
}

}  // namespace
}  // namespace codesweep
