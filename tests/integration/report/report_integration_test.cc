// `codesweep report` and `codesweep show` as processes on a database filled through the Store
// API, and the HTML report rendered in headless Chromium: every chart must draw (the page sets
// data-charts-ok="N" on <body> once every vega-embed promise resolved with marks drawn).
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <string>

#include "coordinator/store/store.h"
#include "tests/unit/report/report_fixture.h"

namespace codesweep {
namespace {

namespace fs = std::filesystem;

struct RunResult {
  int exit_code = -1;
  std::string out;
};

// Runs `command` through the shell (bounded by timeout(1)), capturing stdout.
RunResult RunCommand(const std::string& command, int timeout_s = 60) {
  RunResult r;
  std::string full = "timeout -k 5 " + std::to_string(timeout_s) + " " + command;
  FILE* pipe = popen(full.c_str(), "r");
  if (pipe == nullptr) return r;
  char buf[65536];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, pipe)) > 0) r.out.append(buf, n);
  int status = pclose(pipe);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

std::string Quote(const std::string& s) { return "'" + s + "'"; }

int CountOf(const std::string& text, const std::string& needle) {
  int n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

std::string Chromium() {
  for (const char* p : {"/usr/bin/chromium", "/usr/bin/chromium-browser"}) {
    if (fs::exists(p)) return p;
  }
  return "";
}

class ReportIntegrationTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    char tmpl[] = "/tmp/cs_report_it_XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    db_ = dir_ + "/report.db";
    StoreOptions options;
    options.synchronous_full = false;
    auto store = Store::Open(db_, options);
    ASSERT_TRUE(store.ok()) << store.status().message();
    testing::FixtureSpec spec;
    spec.sweep = "demo";
    spec.models = {"sim:large", "sim:small"};
    spec.methods = {"only_question", "all_text", "all_code", "code_text_sum"};
    spec.tasks = {{"game24", {"2", "3", "4", "5"}},
                  {"number_multiply", {"1_1", "2_2", "3_3"}},
                  {"boxlift", {""}}};
    spec.samples = 12;
    auto fn = [](const testing::FixtureCell& c) {
      // Levels: "2".."5" for game24, "1_1".."3_3" (first digit) for number_multiply.
      const int level = c.complexity.empty() ? 2 : c.complexity[0] - '0' + 1;
      const bool large = c.model == "sim:large";
      const bool code = c.method == "all_code" || c.method == "code_text_sum" ||
                        (c.method == "only_question" && c.sample % 4 < level - 1);
      const int skill = (large ? 9 : 6) + (code ? 3 : 0) - level;
      const bool correct = c.sample % 12 < skill;
      const double score = c.task == "boxlift" && !correct ? 0.5 : (correct ? 1.0 : 0.0);
      const int64_t tokens = 300 + 200 * static_cast<int64_t>(c.method.size() % 4) + 30 * level;
      return testing::SimpleOutcome(correct, code, score, tokens, tokens / 3,
                                    2000 + 500 * level + (code ? 1500 : 0),
                                    (large ? 5e-6 : 1e-6) * static_cast<double>(tokens));
    };
    auto filled = testing::FillFixture(**store, spec, fn);
    ASSERT_TRUE(filled.ok()) << filled.status().message();
  }
  static void TearDownTestSuite() {
    if (!getenv("CS_KEEP_REPORT_DIR")) fs::remove_all(dir_);
  }
  static std::string Codesweep() { return std::string(CODESWEEP_BINARY_DIR) + "/codesweep"; }

  static std::string dir_, db_;
};
std::string ReportIntegrationTest::dir_, ReportIntegrationTest::db_;

TEST_F(ReportIntegrationTest, MarkdownCsvJson) {
  RunResult md = RunCommand(Codesweep() + " report --db " + Quote(db_));
  ASSERT_EQ(md.exit_code, 0) << md.out;
  EXPECT_NE(md.out.find("## Sweep demo"), std::string::npos);
  EXPECT_NE(md.out.find("model sim:small"), std::string::npos);
  EXPECT_NE(md.out.find("| Ave. Norm. |"), std::string::npos);
  EXPECT_NE(md.out.find("Complexity"), std::string::npos);
  RunResult csv =
      RunCommand(Codesweep() + " report --db " + Quote(db_) + " --sweep demo --format csv");
  ASSERT_EQ(csv.exit_code, 0);
  EXPECT_EQ(csv.out.rfind("table,sweep,model,task,method,complexity,metric,value\n", 0), 0u);
  EXPECT_NE(csv.out.find("complexity,demo,sim:large,game24,all_code,5,success_pct,"),
            std::string::npos);
  RunResult json = RunCommand(Codesweep() + " report --db " + Quote(db_) + " --format json");
  ASSERT_EQ(json.exit_code, 0);
  auto j = nlohmann::json::parse(json.out, nullptr, false);
  ASSERT_FALSE(j.is_discarded());
  EXPECT_EQ(j[0]["models"].size(), 2u);
  EXPECT_EQ(j[0]["table2"].size(), 4u);
  EXPECT_EQ(j[0]["cells"].get<int64_t>(), 2 * 4 * 8 * 12);
}

TEST_F(ReportIntegrationTest, ErrorsAreReported) {
  EXPECT_NE(
      RunCommand(Codesweep() + " report --db " + Quote(dir_ + "/missing.db") + " 2>&1").exit_code,
      0);
  RunResult r = RunCommand(Codesweep() + " report --db " + Quote(db_) + " --sweep nope 2>&1");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.out.find("no sweep named 'nope'"), std::string::npos) << r.out;
}

TEST_F(ReportIntegrationTest, ShowPrintsTrajectoryByPrefixAndJobId) {
  RunResult r = RunCommand(Codesweep() + " show 1 --db " + Quote(db_));
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("(job 1)"), std::string::npos);
  EXPECT_NE(r.out.find("What is 6*7?"), std::string::npos);
  EXPECT_NE(r.out.find("== verdict"), std::string::npos);
  std::smatch m;
  ASSERT_TRUE(std::regex_search(r.out, m, std::regex("cell ([0-9a-f]{64})")));
  RunResult by_prefix =
      RunCommand(Codesweep() + " show " + m[1].str().substr(0, 10) + " --db " + Quote(db_));
  EXPECT_EQ(by_prefix.exit_code, 0);
  EXPECT_EQ(by_prefix.out, r.out);
  EXPECT_NE(RunCommand(Codesweep() + " show zzzz --db " + Quote(db_) + " 2>&1").exit_code, 0);
}

// --html alone writes the page and prints nothing (it printed the Markdown report before).
TEST_F(ReportIntegrationTest, HtmlAloneWritesOnlyTheFile) {
  const std::string html = dir_ + "/only.html";
  RunResult r = RunCommand(Codesweep() + " report --db " + Quote(db_) + " --html " + Quote(html));
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_EQ(r.out, "");
  EXPECT_TRUE(std::filesystem::exists(html));
  RunResult both = RunCommand(Codesweep() + " report --db " + Quote(db_) + " --html " +
                              Quote(html) + " --format csv");
  ASSERT_EQ(both.exit_code, 0);
  EXPECT_NE(both.out.find("table,sweep"), std::string::npos) << both.out.substr(0, 200);
}

TEST_F(ReportIntegrationTest, HtmlIsSelfContainedAndEveryChartDrawsInChromium) {
  const std::string html = dir_ + "/report.html";
  RunResult r = RunCommand(Codesweep() + " report --db " + Quote(db_) + " --html " + Quote(html) +
                           " -o " + Quote(dir_ + "/report.md"));
  ASSERT_EQ(r.exit_code, 0) << r.out;
  std::ifstream in(html);
  std::stringstream text;
  text << in.rdbuf();
  const std::string page = text.str();
  EXPECT_EQ(page.find("<script src"), std::string::npos) << "scripts must be inlined";
  EXPECT_EQ(page.find("@BODY@"), std::string::npos);
  const int charts = CountOf(page, "class=\"chart\"");
  EXPECT_EQ(charts, 4);  // Table 2 bars, success and code usage vs complexity, score vs cost

  const std::string chromium = Chromium();
  if (chromium.empty()) GTEST_SKIP() << "chromium is not installed (Debian package chromium)";
  const std::string profile = dir_ + "/chromium-profile";
  const std::string flags =
      " --headless --no-sandbox --disable-gpu --no-first-run --disable-background-networking"
      " --disable-component-update --disable-sync --disable-dev-shm-usage"
      " --user-data-dir=" +
      Quote(profile) + " --virtual-time-budget=20000";
  RunResult dom =
      RunCommand(chromium + flags + " --dump-dom " + Quote("file://" + html) + " 2>/dev/null", 120);
  ASSERT_EQ(dom.exit_code, 0);
  EXPECT_EQ(dom.out.find("data-charts-error=\""), std::string::npos)
      << dom.out.substr(dom.out.find("data-charts-error=\""), 300);
  EXPECT_NE(dom.out.find("data-charts-ok=\"" + std::to_string(charts) + "\""), std::string::npos)
      << "charts did not all draw";
  const int with_marks = CountOf(dom.out, "data-marks=\"") - CountOf(dom.out, "data-marks=\"0\"");
  EXPECT_EQ(with_marks, charts);
}

// The real engine: a tiny simulated sweep run by `codesweep run`, then reported and shown.
TEST_F(ReportIntegrationTest, ReportsARealSimulatedRun) {
  const std::string sweep = dir_ + "/tiny.toml", db = dir_ + "/tiny.db";
  std::ofstream(sweep) << "name = \"tiny\"\nseed = 7\nsamples = 2\n"
                          "methods = [\"only_question\", \"all_code\"]\nturns = [1]\n"
                          "[[tasks]]\nname = \"game24\"\ncomplexity = [\"2\", \"3\"]\n"
                          "[models.\"sim:strong\"]\np_correct = 0.9\np_code = 0.5\n";
  RunResult run =
      RunCommand(Codesweep() + " run " + Quote(sweep) + " --db " + Quote(db) + " 2>&1", 120);
  ASSERT_EQ(run.exit_code, 0) << run.out;
  RunResult json = RunCommand(Codesweep() + " report --db " + Quote(db) + " --format json");
  ASSERT_EQ(json.exit_code, 0);
  auto j = nlohmann::json::parse(json.out, nullptr, false);
  ASSERT_FALSE(j.is_discarded());
  EXPECT_EQ(j[0]["sweep"], "tiny");
  EXPECT_EQ(j[0]["cells"].get<int64_t>(), 8);
  EXPECT_EQ(j[0]["complexity"].size(), 4u);  // 2 methods x 2 levels
  EXPECT_GT(j[0]["total_cost"]["calls"].get<int64_t>(), 0);
  RunResult show = RunCommand(Codesweep() + " show 1 --db " + Quote(db));
  ASSERT_EQ(show.exit_code, 0) << show.out;
  EXPECT_NE(show.out.find("--- prompt (user) ---"), std::string::npos) << show.out;
  EXPECT_NE(show.out.find("--- reply ---"), std::string::npos) << show.out;
  EXPECT_NE(show.out.find("== verdict"), std::string::npos) << show.out;
}

}  // namespace
}  // namespace codesweep
