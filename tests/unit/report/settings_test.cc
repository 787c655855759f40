// Results are never pooled across settings (report/sql/0005_report_settings_views.sql): turns and
// model variants are their own rows in v_summary and the report, the average normalized score is
// computed within one (model, turns) setting, and failed or dead cells are counted, not dropped.
// Each test failed before 0005 and the report's per-setting grouping.
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <string>

#include "coordinator/store/report_queries.h"
#include "coordinator/store/store.h"
#include "report/format.h"
#include "report/report.h"
#include "tests/unit/report/report_fixture.h"

namespace codesweep {
namespace {

using testing::FixtureCell;
using testing::FixtureSpec;

class SettingsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/cs_settings_test_XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    path_ = dir_ + "/r.db";
    StoreOptions options;
    options.synchronous_full = false;
    auto store = Store::Open(path_, options);
    ASSERT_TRUE(store.ok()) << store.status().message();
    store_ = std::move(*store);
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  void Fill(const FixtureSpec& spec, const testing::OutcomeFn& fn) {
    ASSERT_TRUE(testing::FillFixture(*store_, spec, fn).ok());
  }
  std::unique_ptr<ReportDb> Open() {
    EXPECT_TRUE(store_->Commit().ok());
    auto db = ReportDb::Open(path_);
    EXPECT_TRUE(db.ok()) << db.status().message();
    return db.ok() ? std::move(*db) : nullptr;
  }
  std::vector<SweepReport> Reports(ReportDb& db) {
    auto grain = db.Grain("");
    auto cost = db.ModelCost("");
    auto states = db.JobStates("");
    EXPECT_TRUE(grain.ok() && cost.ok() && states.ok());
    return BuildReports(*grain, *cost, *states);
  }
  // method -> avg_norm_pct of one model from v_method_score (turns-qualified label).
  std::map<std::string, double> ViewScores(ReportDb& db, const std::string& model) {
    auto t = db.Query("SELECT method, turns, avg_norm_pct FROM v_method_score WHERE model = '" +
                      model + "'");
    EXPECT_TRUE(t.ok());
    std::map<std::string, double> out;
    for (const auto& row : t->rows) {
      out[MethodLabel(*row[0], std::stoi(*row[1]))] = std::stod(*row[2]);
    }
    return out;
  }
  std::string dir_, path_;
  std::unique_ptr<Store> store_;
};

// The single-turn sweep: three methods on two tasks; "AC" is best on game24, "OQ" on boxlift.
FixtureSpec OneTurn() {
  FixtureSpec spec;
  spec.sweep = "s";
  spec.models = {"sim:m"};
  spec.methods = {"OQ", "AC", "CTS"};
  spec.tasks = {{"game24", {"3"}}, {"boxlift", {"1"}}};
  spec.samples = 10;
  return spec;
}

Outcome ByMethod(const FixtureCell& c) {
  std::map<std::string, int> correct_of = {{"OQ", 4}, {"AC", 8}, {"CTS", 6}};
  int k = correct_of[c.method];
  if (c.task == "boxlift") k = 10 - k;
  if (c.turns == 2) k = 10;  // the multi-turn run is perfect everywhere
  return testing::SimpleOutcome(c.sample < k, false, c.sample < k ? 1 : 0, 10, 10, 10, 0.0);
}

TEST_F(SettingsTest, AddingTurnsLeavesTheOneTurnNumbersAlone) {
  Fill(OneTurn(), ByMethod);
  auto db = Open();
  const std::map<std::string, double> before = ViewScores(*db, "sim:m");
  const std::map<std::string, double> before_cpp = Reports(*db)[0].table1[0].avg_norm;
  ASSERT_EQ(before.size(), 3u);
  db.reset();

  FixtureSpec two = OneTurn();
  two.methods = {"CTS"};
  two.turns = 2;
  Fill(two, ByMethod);
  db = Open();
  const std::map<std::string, double> after = ViewScores(*db, "sim:m");
  std::vector<SweepReport> reports = Reports(*db);
  ASSERT_EQ(reports.size(), 1u);
  const ModelTable& t = reports[0].table1[0];
  for (const auto& [method, pct] : before) {
    EXPECT_NEAR(after.at(method), pct, 1e-9) << method << " changed when turns = 2 was added";
    EXPECT_NEAR(t.avg_norm.at(method), before_cpp.at(method), 1e-9) << method;
    EXPECT_NEAR(t.avg_norm.at(method), pct, 1e-9) << method << ": the report differs from SQL";
  }
  // The 2-turn setting has one method, which is its own best: 100 %, rank 1.
  EXPECT_NEAR(after.at("CTS@T2"), 100.0, 1e-9);
  EXPECT_NEAR(t.avg_norm.at("CTS@T2"), 100.0, 1e-9);
  EXPECT_EQ(t.rank.at("CTS@T2"), 1);
  // Table 2 agrees with v_method_summary for every (method, turns).
  auto summary = db->Query("SELECT method, turns, avg_rank, avg_score_pct FROM v_method_summary");
  ASSERT_TRUE(summary.ok());
  ASSERT_EQ(summary->rows.size(), 4u);
  for (const auto& row : summary->rows) {
    const std::string label = MethodLabel(*row[0], std::stoi(*row[1]));
    bool found = false;
    for (const MethodSummaryRow& m : reports[0].table2) {
      if (m.method != label) continue;
      found = true;
      EXPECT_NEAR(m.avg_rank, std::stod(*row[2]), 1e-9) << label;
      EXPECT_NEAR(m.avg_score_pct.value_or(-1), std::stod(*row[3]), 1e-9) << label;
    }
    EXPECT_TRUE(found) << label;
  }
}

TEST_F(SettingsTest, SummaryHasTurnsAndNeverPoolsThem) {
  Fill(OneTurn(), ByMethod);
  FixtureSpec two = OneTurn();
  two.methods = {"CTS"};
  two.turns = 2;
  Fill(two, ByMethod);
  auto db = Open();
  auto t = db->Query(
      "SELECT turns, n, correct FROM v_summary WHERE task = 'game24' AND method = 'CTS' "
      "ORDER BY turns");
  ASSERT_TRUE(t.ok()) << t.status().message();
  ASSERT_EQ(t->rows.size(), 2u);
  EXPECT_EQ(*t->rows[0][0], "1");
  EXPECT_EQ(*t->rows[0][2], "6");
  EXPECT_EQ(*t->rows[1][0], "2");
  EXPECT_EQ(*t->rows[1][2], "10");
}

TEST_F(SettingsTest, TwoTemperaturesOfOneModelAreTwoNamedRows) {
  FixtureSpec cold = OneTurn();
  cold.methods = {"OQ"};
  FixtureSpec warm = cold;
  warm.temperature = 0.7;
  Fill(cold, ByMethod);
  Fill(warm,
       [](const FixtureCell&) { return testing::SimpleOutcome(false, false, 0, 1, 1, 1, 0); });
  auto db = Open();
  auto t = db->Query("SELECT model, correct FROM v_summary WHERE task = 'game24' ORDER BY model");
  ASSERT_TRUE(t.ok());
  ASSERT_EQ(t->rows.size(), 2u) << "two settings pooled into one row";
  EXPECT_NE(t->rows[0][0]->find("\"temperature\":0.0"), std::string::npos) << *t->rows[0][0];
  EXPECT_NE(t->rows[1][0]->find("\"temperature\":0.7"), std::string::npos) << *t->rows[1][0];
  std::vector<SweepReport> reports = Reports(*db);
  ASSERT_EQ(reports.size(), 1u);
  EXPECT_EQ(reports[0].models.size(), 2u);
}

TEST_F(SettingsTest, FailedAndDeadCellsAreCountedInTheReport) {
  FixtureSpec spec = OneTurn();
  Fill(spec, [](const FixtureCell& c) {
    if (c.method != "CTS") return ByMethod(c);
    Outcome o;
    o.failed = true;
    o.error = "HTTP 500: tools param requires --jinja flag";
    return o;
  });
  auto db = Open();
  std::vector<SweepReport> reports = Reports(*db);
  ASSERT_EQ(reports.size(), 1u);
  const SweepReport& r = reports[0];
  ASSERT_EQ(r.excluded.size(), 1u);
  EXPECT_EQ(r.excluded[0].method, "CTS");
  EXPECT_EQ(r.excluded[0].failed, 20);
  EXPECT_EQ(r.excluded[0].top_error, "HTTP 500: tools param requires --jinja flag");
  const std::string md = FormatMarkdown(reports);
  EXPECT_NE(md.find("Failed and dead cells"), std::string::npos) << md;
  EXPECT_NE(md.find("tools param requires --jinja flag"), std::string::npos);
  // A sweep whose every cell failed still gets a report that says so.
  db.reset();
  FixtureSpec all_dead = OneTurn();
  all_dead.sweep = "broken";
  Fill(all_dead, [](const FixtureCell&) {
    Outcome o;
    o.failed = true;
    o.error = "connection refused";
    return o;
  });
  db = Open();
  reports = Reports(*db);
  ASSERT_EQ(reports.size(), 2u);
  EXPECT_EQ(reports[1].sweep, "broken");
  EXPECT_EQ(reports[1].cells, 0);
  ASSERT_EQ(reports[1].excluded.size(), 3u);
}

// Tokens paid for are told apart from tokens replayed from the call cache (issue 19 §6).
TEST_F(SettingsTest, ModelCostSeparatesPaidFromReplayedTokens) {
  FixtureSpec spec = OneTurn();
  spec.methods = {"OQ"};
  Fill(spec, [](const FixtureCell&) {
    Outcome o = testing::SimpleOutcome(true, false, 1, 100, 10, 5, 0.01);
    CallRecord replayed = o.calls[0];
    replayed.index = 1;
    replayed.call_key = "k2";
    replayed.cached = true;
    replayed.tokens_in = 1000;
    replayed.tokens_out = 50;
    replayed.cost_usd = 0;
    o.calls.push_back(replayed);
    return o;
  });
  auto db = Open();
  auto cost = db->ModelCost("");
  ASSERT_TRUE(cost.ok()) << cost.status().message();
  ASSERT_EQ(cost->size(), 1u);
  const ModelCostRow& m = cost->front();
  EXPECT_EQ(m.calls, 40);
  EXPECT_EQ(m.cached, 20);
  EXPECT_EQ(m.tokens_in, 20 * 100) << "paid input tokens only";
  EXPECT_EQ(m.tokens_out, 20 * 10);
  EXPECT_EQ(m.replayed_tokens_in, 20 * 1000);
  EXPECT_EQ(m.replayed_tokens_out, 20 * 50);
  const std::string md = FormatMarkdown(Reports(*db));
  EXPECT_NE(md.find("Tokens replayed (in + out)"), std::string::npos);
  EXPECT_NE(md.find("| 21000 |"), std::string::npos) << md;
}

// A database made before migration 0005 (user_version 4) reads through temp views that replace
// the old ones, without being written.
TEST_F(SettingsTest, ReadOnlyReportOnAnOlderDatabaseUsesTheNewViews) {
  Fill(OneTurn(), ByMethod);
  ASSERT_TRUE(store_->Commit().ok());
  store_.reset();
  sqlite3* raw = nullptr;
  ASSERT_EQ(sqlite3_open(path_.c_str(), &raw), SQLITE_OK);
  // Back to version 4: the 0002 view of v_summary without turns, and the version number.
  const char* downgrade =
      "DROP VIEW v_summary; CREATE VIEW v_summary AS SELECT sweep, task, model, method, "
      "count(*) AS n FROM v_results GROUP BY sweep, task, model, method; "
      "PRAGMA user_version = 4;";
  ASSERT_EQ(sqlite3_exec(raw, downgrade, nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(raw);
  auto before = std::filesystem::last_write_time(path_);
  auto db = ReportDb::Open(path_);
  ASSERT_TRUE(db.ok()) << db.status().message();
  auto t = (*db)->Query("SELECT turns FROM v_summary LIMIT 1");
  ASSERT_TRUE(t.ok()) << t.status().message();
  ASSERT_TRUE((*db)->JobStates("").ok());
  db->reset();
  EXPECT_EQ(std::filesystem::last_write_time(path_), before);
}

}  // namespace
}  // namespace codesweep
