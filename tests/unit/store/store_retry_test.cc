// Store: selective retry of failed and dead cells (codesweep retry) and the budget reads.
#include <gtest/gtest.h>

#include "coordinator/store/report_queries.h"
#include "coordinator/store/store.h"
#include "store_test_util.h"

namespace codesweep {
namespace {

using testing_store::Cells;
using testing_store::Failure;
using testing_store::Fixture;
using testing_store::MakeFixture;
using testing_store::TempDir;
using testing_store::Verdict;

constexpr int64_t kNow = 1'700'000'000'000;

// Leases the next pending job and completes it with `outcome`.
JobId Finish(Store& store, const Outcome& outcome) {
  std::vector<JobRow> rows = *store.FetchPending(kNow, JobId(0), 1);
  EXPECT_EQ(rows.size(), 1u);
  JobId job = rows[0].job;
  LeaseToken l = *store.LeaseJob(job, "w1", kNow + 1000);
  EXPECT_EQ(*store.CompleteJob(job, l, outcome, kNow, kNow), CompleteResult::kAccepted);
  return job;
}

int64_t Count(const std::string& db, const std::string& sql) {
  auto r = ReportDb::Open(db);
  EXPECT_TRUE(r.ok());
  auto t = (*r)->Query(sql);
  EXPECT_TRUE(t.ok() && !t->rows.empty() && t->rows[0][0]);
  return std::atoll(t->rows[0][0]->c_str());
}

TEST(StoreRetry, OnlyMatchingCellsGoBackAndHistoryStays) {
  TempDir dir;
  Fixture f = MakeFixture(dir.File("a.db"), /*max_attempts=*/1);
  ASSERT_TRUE(f.store->InsertCells(f.sweep_id, Cells(f.variant_id, 0, 4)).ok());
  Finish(*f.store, Failure(false, "HTTP 401: invalid key"));  // failed
  Finish(*f.store, Failure(true, "HTTP 503: overloaded"));    // dead
  Finish(*f.store, Failure(true, "connection refused"));      // dead
  Finish(*f.store, Verdict(true));                            // done
  ASSERT_TRUE(f.store->Commit().ok());

  RetryFilter dead;
  dead.states = {JobState::kDead};
  EXPECT_EQ(*f.store->CountRetryable(f.sweep_id, dead), 2);
  RetryFilter like;
  like.error_like = "http 5";  // case-insensitive substring
  EXPECT_EQ(*f.store->CountRetryable(f.sweep_id, like), 1);
  RetryFilter other_model;
  other_model.model = "sim:other";
  EXPECT_EQ(*f.store->CountRetryable(f.sweep_id, other_model), 0);
  RetryFilter by_model;
  by_model.model = "sim:default";
  by_model.method = "only_question";
  by_model.task = "game24";
  EXPECT_EQ(*f.store->CountRetryable(f.sweep_id, by_model), 3);

  dead.error_like = "refused";
  EXPECT_EQ(*f.store->RetryCells(f.sweep_id, dead), 1);
  EXPECT_EQ(*f.store->CountJobs(JobState::kPending, f.sweep_id), 1);
  EXPECT_EQ(*f.store->CountJobs(JobState::kDead, f.sweep_id), 1);
  EXPECT_EQ(*f.store->CountJobs(JobState::kFailed, f.sweep_id), 1);
  EXPECT_EQ(*f.store->CountJobs(JobState::kDone, f.sweep_id), 1);
  // The retried cell runs again as attempt 1; its failed attempt stays.
  JobId again = Finish(*f.store, Verdict(false));
  ASSERT_TRUE(f.store->Commit().ok());
  EXPECT_EQ(f.store->GetJob(again)->state, JobState::kDone);
  EXPECT_EQ(Count(dir.File("a.db"),
                  "SELECT count(*) FROM attempts WHERE job_id = " + std::to_string(again.value())),
            2);
  EXPECT_EQ(Count(dir.File("a.db"), "SELECT count(*) FROM attempts WHERE job_id = " +
                                        std::to_string(again.value()) + " AND attempt = 1"),
            2);
}

TEST(StoreRetry, RefusesStatesThatCannotBeRetried) {
  TempDir dir;
  Fixture f = MakeFixture(dir.File("a.db"));
  for (JobState s : {JobState::kDone, JobState::kLeased, JobState::kPending}) {
    RetryFilter bad;
    bad.states = {s};
    Result<int64_t> n = f.store->RetryCells(f.sweep_id, bad);
    ASSERT_FALSE(n.ok());
    EXPECT_NE(n.status().message().find("cannot be retried"), std::string::npos);
  }
}

// Regression: a cell made dead by losing its worker 20 times, then retried by the user, was dead
// again at its first lost lease: the lost leases before the retry still counted.
TEST(StoreRetry, LostLeasesBeforeARetryDoNotCount) {
  TempDir dir;
  Fixture f = MakeFixture(dir.File("a.db"), /*max_attempts=*/1);
  ASSERT_TRUE(f.store->InsertCells(f.sweep_id, Cells(f.variant_id, 0, 1)).ok());
  JobId job = (*f.store->FetchPending(kNow, JobId(0), 1))[0].job;
  for (int lost = 1; lost <= 20; ++lost) {
    LeaseToken l = *f.store->LeaseJob(job, "w1", kNow + 1000);
    ASSERT_EQ(*f.store->RequeueJob(job, l, "worker lost", 0), CompleteResult::kAccepted);
  }
  ASSERT_EQ(f.store->GetJob(job)->state, JobState::kDead);
  ASSERT_EQ(*f.store->RetryCells(f.sweep_id, {}), 1);
  LeaseToken l = *f.store->LeaseJob(job, "w1", kNow + 1000);
  ASSERT_EQ(*f.store->RequeueJob(job, l, "worker lost", 0), CompleteResult::kAccepted);
  EXPECT_EQ(f.store->GetJob(job)->state, JobState::kPending);
}

TEST(StoreRetry, SpendCountsPaidCallsPerModel) {
  TempDir dir;
  Fixture f = MakeFixture(dir.File("a.db"));
  ASSERT_TRUE(f.store->InsertCells(f.sweep_id, Cells(f.variant_id, 0, 3)).ok());
  Outcome paid = Verdict(true);
  paid.calls[0].cost_usd = 0.25;
  paid.calls[0].tokens_in = 100;
  paid.calls[0].tokens_out = 20;
  Outcome cached = paid;
  cached.calls[0].cached = true;
  Outcome failed = Failure(false, "401");
  failed.calls = paid.calls;  // a failed attempt's calls were paid too
  Finish(*f.store, paid);
  Finish(*f.store, cached);
  Finish(*f.store, failed);
  auto spend = f.store->SpendByModel(f.sweep_id);
  ASSERT_TRUE(spend.ok()) << spend.status().ToString();
  ASSERT_EQ(spend->size(), 1u);
  EXPECT_EQ((*spend)[0].model, "sim:default");
  EXPECT_DOUBLE_EQ((*spend)[0].cost_usd, 0.5);
  EXPECT_EQ((*spend)[0].tokens, 240);
  EXPECT_TRUE(f.store->UnfinishedByModel(f.sweep_id)->empty());
  ASSERT_TRUE(f.store->SetStopReason(f.sweep_id, "budget reached").ok());
  ASSERT_TRUE(f.store->Commit().ok());
  EXPECT_EQ(Count(dir.File("a.db"), "SELECT count(*) FROM sweeps WHERE stop_reason != ''"), 1);
}

}  // namespace
}  // namespace codesweep
