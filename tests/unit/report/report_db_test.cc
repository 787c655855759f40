// Reports over a real store: the paper's GPT-4o Table 1 loaded as cells reproduces its Ave. Norm.
// row through the SQL views and the C++ report alike; every report number equals its view;
// formats and `show` trajectories.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "coordinator/store/report_queries.h"
#include "coordinator/store/store.h"
#include "report/format.h"
#include "report/report.h"
#include "report/show.h"
#include "tests/unit/report/report_fixture.h"

namespace codesweep {
namespace {

using testing::FixtureCell;
using testing::FixtureSpec;

const std::vector<std::string> kMethods = {"OQ",  "AT", "AC",  "ACC", "AGC",
                                           "AGS", "CI", "CI+", "CTS", "SES"};
const std::map<std::string, std::vector<int>> kGpt4o = {
    {"Num. Multi.", {37, 38, 100, 100, 100, 33, 84, 100, 99, 91}},
    {"Game 24", {17, 23, 5, 11, 88, 18, 18, 63, 33, 66}},
    {"Path Plan", {65, 44, 71, 76, 79, 73, 54, 46, 66, 71}},
    {"Letters", {24, 71, 100, 100, 100, 24, 89, 95, 98, 93}},
    {"BoxLift", {69, 57, 30, 68, 21, 64, 50, 59, 65, 34}},
    {"BoxNet", {37, 30, 37, 1, 12, 33, 37, 21, 23, 25}},
    {"Blocksworld", {43, 52, 40, 32, 50, 44, 42, 49, 50, 50}},
    {"Date Unde.", {90, 88, 64, 72, 65, 88, 76, 80, 86, 81}},
    {"Web of Lies", {96, 86, 79, 91, 78, 96, 94, 74, 77, 88}},
    {"Logi. Dedu.", {89, 91, 79, 83, 82, 87, 82, 87, 94, 82}},
    {"Navigate", {98, 95, 94, 99, 91, 97, 98, 97, 96, 99}},
    {"GSM-Hard", {78, 80, 82, 83, 81, 78, 79, 78, 81, 79}},
    {"MATH Geo.", {76, 73, 68, 74, 73, 74, 73, 70, 77, 72}},
    {"MATH Count.", {89, 87, 84, 88, 91, 89, 89, 89, 86, 90}},
};
const std::vector<double> kRecomputed = {80.7, 80.1, 80.6, 80.5, 84.6,
                                         79.5, 83.7, 85.8, 88.2, 87.0};

int MethodIndex(const std::string& m) {
  for (size_t i = 0; i < kMethods.size(); ++i) {
    if (kMethods[i] == m) return static_cast<int>(i);
  }
  return -1;
}

class ReportDbTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/cs_report_test_XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    path_ = dir_ + "/r.db";
    StoreOptions options;
    options.synchronous_full = false;  // test speed; durability is not under test here
    auto store = Store::Open(path_, options);
    ASSERT_TRUE(store.ok()) << store.status().message();
    store_ = std::move(*store);
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  std::unique_ptr<ReportDb> OpenReport() {
    EXPECT_TRUE(store_->Commit().ok());
    auto db = ReportDb::Open(path_);
    EXPECT_TRUE(db.ok()) << db.status().message();
    return db.ok() ? std::move(*db) : nullptr;
  }
  std::vector<SweepReport> Reports(ReportDb& db) {
    auto grain = db.Grain("");
    auto cost = db.ModelCost("");
    EXPECT_TRUE(grain.ok() && cost.ok());
    return BuildReports(*grain, *cost);
  }
  double Num(const QueryTable& t, size_t row, const std::string& col) {
    for (size_t c = 0; c < t.columns.size(); ++c) {
      if (t.columns[c] == col) return t.rows.at(row).at(c) ? std::stod(*t.rows[row][c]) : NAN;
    }
    ADD_FAILURE() << "no column " << col;
    return NAN;
  }
  std::string Str(const QueryTable& t, size_t row, const std::string& col) {
    for (size_t c = 0; c < t.columns.size(); ++c) {
      if (t.columns[c] == col) return t.rows.at(row).at(c).value_or("NULL");
    }
    ADD_FAILURE() << "no column " << col;
    return "";
  }

  // Two models; "sim:weak" is not run with method "CI"; tasks with levels; partial scores.
  void FillSmall() {
    FixtureSpec spec;
    spec.sweep = "small";
    spec.models = {"sim:strong", "sim:weak"};
    spec.methods = {"OQ", "AC", "CI"};
    spec.tasks = {{"game24", {"2", "3", "4"}}, {"boxlift", {""}}};
    spec.samples = 8;
    auto fn = [](const FixtureCell& c) {
      const int level = c.complexity.empty() ? 1 : std::stoi(c.complexity);
      const bool strong = c.model == "sim:strong";
      const bool correct = (c.sample * (strong ? 3 : 2) + c.method.size()) % (level + 2) == 0 ||
                           (c.method == "AC" && c.sample < 5);
      const bool code = c.method != "OQ" || c.sample % level == 0;
      double score = correct ? 1.0 : 0.0;
      if (c.task == "boxlift") score = correct ? 1.0 : 0.25 * static_cast<double>(c.sample % 4);
      return testing::SimpleOutcome(correct, code, score, 100 + c.sample, 20 * level,
                                    1000 + 10 * c.sample, 0.001 * (strong ? 2 : 1));
    };
    FixtureSpec weak = spec;
    spec.models = {"sim:strong"};
    weak.models = {"sim:weak"};
    weak.methods = {"OQ", "AC"};
    ASSERT_TRUE(testing::FillFixture(*store_, spec, fn).ok());
    ASSERT_TRUE(testing::FillFixture(*store_, weak, fn).ok());
  }

  std::string dir_, path_;
  std::unique_ptr<Store> store_;
};

TEST_F(ReportDbTest, PaperTable1ReproducesAveNormThroughViewsAndReport) {
  FixtureSpec spec;
  spec.sweep = "paper";
  spec.models = {"openai:gpt-4o"};
  spec.methods = kMethods;
  for (const auto& [task, row] : kGpt4o) spec.tasks.push_back({task, {""}});
  spec.samples = 100;
  auto fn = [](const FixtureCell& c) {
    const bool correct = c.sample < kGpt4o.at(c.task)[MethodIndex(c.method)];
    return testing::SimpleOutcome(correct, false, correct ? 1 : 0, 10, 10, 100, 0);
  };
  auto filled = testing::FillFixture(*store_, spec, fn);
  ASSERT_TRUE(filled.ok()) << filled.status().message();
  ASSERT_EQ(*filled, 14 * 10 * 100);
  auto db = OpenReport();
  ASSERT_NE(db, nullptr);
  std::vector<SweepReport> reports = Reports(*db);
  ASSERT_EQ(reports.size(), 1u);
  ASSERT_EQ(reports[0].table1.size(), 1u);
  const ModelTable& t = reports[0].table1[0];
  EXPECT_DOUBLE_EQ(t.cells.at("Game 24").at("AGC").success_pct, 88.0);
  auto view = db->Query("SELECT method, avg_norm_pct, rank FROM v_method_score ORDER BY method");
  ASSERT_TRUE(view.ok()) << view.status().message();
  ASSERT_EQ(view->rows.size(), kMethods.size());
  for (size_t i = 0; i < view->rows.size(); ++i) {
    const std::string method = Str(*view, i, "method");
    const double sql = Num(*view, i, "avg_norm_pct");
    EXPECT_NEAR(sql, kRecomputed[MethodIndex(method)], 0.05) << method;
    EXPECT_NEAR(t.avg_norm.at(method), sql, 1e-9) << method;
    EXPECT_EQ(t.rank.at(method), static_cast<int>(Num(*view, i, "rank"))) << method;
  }
  EXPECT_EQ(t.rank.at("CTS"), 1);
}

TEST_F(ReportDbTest, EveryReportNumberEqualsItsView) {
  FillSmall();
  auto db = OpenReport();
  ASSERT_NE(db, nullptr);
  std::vector<SweepReport> reports = Reports(*db);
  ASSERT_EQ(reports.size(), 1u);
  const SweepReport& r = reports[0];
  EXPECT_EQ(r.models, (std::vector<std::string>{"sim:strong", "sim:weak"}));
  EXPECT_EQ(r.cells, 3 * 4 * 8 + 2 * 4 * 8);

  auto ts = db->Query("SELECT * FROM v_task_success");
  ASSERT_TRUE(ts.ok()) << ts.status().message();
  ASSERT_EQ(ts->rows.size(), 2u * 3 + 2u * 2);
  for (size_t i = 0; i < ts->rows.size(); ++i) {
    const ModelTable& t = Str(*ts, i, "model") == "sim:strong" ? r.table1[0] : r.table1[1];
    const TaskMethodCell& c = t.cells.at(Str(*ts, i, "task")).at(Str(*ts, i, "method"));
    EXPECT_EQ(c.n, static_cast<int64_t>(Num(*ts, i, "n")));
    EXPECT_NEAR(c.success_pct, Num(*ts, i, "success_pct"), 1e-9);
    EXPECT_NEAR(c.wilson_lo_pct, Num(*ts, i, "wilson_lo_pct"), 1e-9);
    EXPECT_NEAR(c.wilson_hi_pct, Num(*ts, i, "wilson_hi_pct"), 1e-9);
    EXPECT_NEAR(c.mean_score_pct, Num(*ts, i, "mean_score_pct"), 1e-9);
  }
  EXPECT_EQ(r.table1[0].partial_tasks, std::vector<std::string>{"boxlift"});

  auto ms = db->Query("SELECT * FROM v_method_summary ORDER BY method");
  ASSERT_TRUE(ms.ok()) << ms.status().message();
  ASSERT_EQ(ms->rows.size(), 3u);
  for (size_t i = 0; i < ms->rows.size(); ++i) {
    const std::string method = Str(*ms, i, "method");
    for (const MethodSummaryRow& row : r.table2) {
      if (row.method != method) continue;
      EXPECT_NEAR(row.avg_rank, Num(*ms, i, "avg_rank"), 1e-9) << method;
      EXPECT_NEAR(*row.avg_score_pct, Num(*ms, i, "avg_score_pct"), 1e-9) << method;
      EXPECT_EQ(row.models_run, static_cast<int>(Num(*ms, i, "models_run")));
    }
  }
  // CI was not run on sim:weak (2 methods tested): it ranks 3 there.
  const int ci_rank_strong = r.table1[0].rank.at("CI");
  for (const MethodSummaryRow& row : r.table2) {
    if (row.method == "CI") {
      EXPECT_DOUBLE_EQ(row.avg_rank, (ci_rank_strong + 3) / 2.0);
    }
  }

  auto cx = db->Query("SELECT * FROM v_complexity WHERE task = 'game24'");
  ASSERT_TRUE(cx.ok());
  ASSERT_EQ(cx->rows.size(), r.complexity.size());
  for (size_t i = 0; i < cx->rows.size(); ++i) {
    bool found = false;
    for (const ComplexityPoint& p : r.complexity) {
      if (p.model != Str(*cx, i, "model") || p.method != Str(*cx, i, "method") ||
          p.complexity != Str(*cx, i, "complexity")) {
        continue;
      }
      found = true;
      EXPECT_NEAR(p.success_pct, Num(*cx, i, "success_pct"), 1e-9);
      EXPECT_NEAR(p.code_used_pct, Num(*cx, i, "code_used_pct"), 1e-9);
    }
    EXPECT_TRUE(found);
  }

  auto mc = db->Query("SELECT * FROM v_method_cost");
  ASSERT_TRUE(mc.ok());
  ASSERT_EQ(mc->rows.size(), r.method_cost.size());
  for (size_t i = 0; i < mc->rows.size(); ++i) {
    for (const MethodCost& c : r.method_cost) {
      if (c.model != Str(*mc, i, "model") || c.method != Str(*mc, i, "method")) continue;
      EXPECT_NEAR(c.tokens_per_sample, Num(*mc, i, "tokens_per_sample"), 1e-9);
      EXPECT_NEAR(c.runtime_s_per_sample, Num(*mc, i, "runtime_s_per_sample"), 1e-9);
      EXPECT_NEAR(c.cost_usd, Num(*mc, i, "cost_usd"), 1e-12);
    }
  }
  ASSERT_EQ(r.model_cost.size(), 2u);
  EXPECT_EQ(r.total.calls, r.cells);
  EXPECT_NEAR(r.total.cost_usd, 0.002 * 96 + 0.001 * 64, 1e-9);
}

TEST_F(ReportDbTest, FormatsCarryTheTables) {
  FillSmall();
  auto db = OpenReport();
  ASSERT_NE(db, nullptr);
  std::vector<SweepReport> reports = Reports(*db);
  const std::string md = FormatMarkdown(reports);
  EXPECT_NE(md.find("## Sweep small"), std::string::npos);
  EXPECT_NE(md.find("| Ave. Norm. |"), std::string::npos);
  EXPECT_NE(md.find("| boxlift (score) |"), std::string::npos);
  EXPECT_NE(md.find("Avg rank"), std::string::npos);
  EXPECT_NE(md.find("| total |"), std::string::npos);
  const std::string csv = FormatCsv(reports);
  EXPECT_EQ(csv.rfind("table,sweep,model,task,method,complexity,metric,value\n", 0), 0u);
  EXPECT_NE(csv.find("method_summary,small,,,CI,,avg_rank,"), std::string::npos);
  auto js = nlohmann::json::parse(FormatJson(reports));
  ASSERT_EQ(js.size(), 1u);
  EXPECT_EQ(js[0]["table2"].size(), 3u);
  EXPECT_EQ(js[0]["table1"][1]["methods"].size(), 2u);
  EXPECT_TRUE(js[0]["total_cost"]["calls"].get<int64_t>() > 0);
}

TEST_F(ReportDbTest, ShowFindsCellsAndPrintsTheTrajectory) {
  FillSmall();
  auto db = OpenReport();
  ASSERT_NE(db, nullptr);
  auto one = db->Query(
      "SELECT cell_key, job_id FROM v_results WHERE method = 'AC' AND code_used = 1 LIMIT 1");
  ASSERT_TRUE(one.ok() && one->rows.size() == 1);
  const std::string key = Str(*one, 0, "cell_key");
  const int64_t job = static_cast<int64_t>(Num(*one, 0, "job_id"));
  auto by_key = db->FindJobs(key, 5);
  auto by_prefix = db->FindJobs(key.substr(0, 12), 5);
  auto by_id = db->FindJobs(std::to_string(job), 5);
  auto ambiguous = db->FindJobs("", 5);
  ASSERT_TRUE(by_key.ok() && by_prefix.ok() && by_id.ok() && ambiguous.ok());
  EXPECT_EQ(*by_key, std::vector<int64_t>{job});
  EXPECT_EQ(*by_prefix, std::vector<int64_t>{job});
  EXPECT_EQ(*by_id, std::vector<int64_t>{job});
  EXPECT_TRUE(ambiguous->empty());
  auto t = db->LoadTrajectory(job);
  ASSERT_TRUE(t.ok()) << t.status().message();
  const std::string text = FormatTrajectory(*t);
  for (const char* want : {"prompt (user)", "What is 6*7?", "--- reply ---", "print(6*7)",
                           "--- stdout ---", "42", "== verdict", "--- why ---", "method AC"}) {
    EXPECT_NE(text.find(want), std::string::npos) << want << "\n" << text;
  }
  EXPECT_FALSE(db->LoadTrajectory(999999).ok());
}

TEST_F(ReportDbTest, ReportDbIsReadOnlyAndRejectsNonDatabases) {
  FillSmall();
  auto db = OpenReport();
  ASSERT_NE(db, nullptr);
  EXPECT_FALSE(db->Query("DELETE FROM results").ok());
  EXPECT_FALSE(ReportDb::Open(dir_ + "/missing.db").ok());
  EXPECT_FALSE(db->Query("SELECT * FROM no_such_view").ok());
}

}  // namespace
}  // namespace codesweep
