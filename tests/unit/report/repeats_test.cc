// ReportDb::Repeats: mean, pass@k and majority vote over the draws of repeated cells
// (`epochs = K`), from a real store filled through the Store API.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "base/hash.h"
#include "coordinator/store/report_queries.h"
#include "coordinator/store/store.h"
#include "report/format.h"
#include "tests/unit/report/report_fixture.h"

namespace codesweep {
namespace {

// Three instances drawn three times; `answers[instance][epoch]` is the final answer, "42" being
// the right one.
TEST(RepeatsTest, MeanPassAtKAndMajority) {
  const std::string dir =
      (std::filesystem::temp_directory_path() / ("cs_repeats_" + std::to_string(getpid())))
          .string();
  std::filesystem::create_directories(dir);
  const std::string answers[3][3] = {
      {"42", "41", "41"},  // pass@3 yes, majority 41: no
      {"42", "42", "7"},   // yes, majority yes
      {"1", "2", "3"},     // no, no (a three-way tie goes to the first draw)
  };
  {
    auto store = Store::Open(dir + "/r.db", {});
    ASSERT_TRUE(store.ok());
    SweepRecord sweep;
    sweep.name = "rep";
    auto sweep_id = (*store)->UpsertSweep(sweep);
    ASSERT_TRUE(sweep_id.ok());
    auto variant = (*store)->UpsertVariant({testing::ModelFromId("sim:a"), {}, "{}"});
    ASSERT_TRUE(variant.ok());
    std::vector<CellRow> cells;
    for (int s = 0; s < 3; ++s) {
      for (int e = 0; e < 3; ++e) {
        cells.push_back({CellKey(Sha256Hex(std::to_string(s) + "/" + std::to_string(e))), "t", "1",
                         s, *variant, "only_question", 1, e});
      }
    }
    ASSERT_TRUE((*store)->InsertCells(*sweep_id, cells).ok());
    auto rows = (*store)->FetchPending(1, JobId(0), 100);
    ASSERT_TRUE(rows.ok());
    ASSERT_EQ(rows->size(), 9u);
    for (const JobRow& j : *rows) {
      auto lease = (*store)->LeaseJob(j.job, "w", 60'000);
      ASSERT_TRUE(lease.ok());
      const std::string& a = answers[j.sample][j.epoch];
      Outcome o = testing::SimpleOutcome(a == "42", false, a == "42" ? 1 : 0, 1, 1, 1, 0);
      o.final_answer = a;
      ASSERT_TRUE((*store)->CompleteJob(j.job, *lease, o, 1, 1).ok());
    }
    ASSERT_TRUE((*store)->Commit().ok());
  }
  auto db = ReportDb::Open(dir + "/r.db");
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  auto repeats = (*db)->Repeats("rep");
  ASSERT_TRUE(repeats.ok()) << repeats.status().ToString();
  ASSERT_EQ(repeats->size(), 1u);
  const RepeatRow& r = repeats->front();
  EXPECT_EQ(r.instances, 3);
  EXPECT_EQ(r.draws, 9);
  EXPECT_EQ(r.max_draws, 3);
  EXPECT_EQ(r.correct, 3);           // mean 33.3 %
  EXPECT_EQ(r.any_correct, 2);       // pass@3 66.7 %
  EXPECT_EQ(r.majority_correct, 1);  // 33.3 %
  EXPECT_TRUE((*db)->Repeats("other")->empty());
  SweepReport report;
  report.repeats = *repeats;
  std::string md = FormatMarkdown({report});
  EXPECT_NE(md.find("| t | sim:a (simulated) | only_question | 3 | 3 | 33.3 | 66.7 | 33.3 |"),
            std::string::npos)
      << md;
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace codesweep
