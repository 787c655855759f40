// What the HTML and Markdown reports tell a reader beyond the numbers: simulated models are
// labelled, Table 2 comes first, provenance is recorded, complexity charts carry confidence
// intervals, and 16+ methods each get a colour of their own. Each failed before (issue 19 §6).
#include <gtest/gtest.h>

#include <set>
#include <string>

#include "report/format.h"
#include "report/html.h"
#include "report/report.h"

namespace codesweep {
namespace {

std::vector<SweepReport> Reports(int methods) {
  std::vector<GrainRow> grain;
  for (const char* model : {"sim:strong", "openai:gpt-4o"}) {
    for (const char* level : {"1", "2"}) {
      for (int m = 0; m < methods; ++m) {
        GrainRow g;
        g.sweep = "s";
        g.model = model;
        g.task = "t";
        g.method = "method" + std::to_string(m);
        g.complexity = level;
        g.complexity_order = level[0];
        g.n = 10;
        g.correct = (m * 3 + level[0]) % 11;
        g.score_sum = static_cast<double>(g.correct);
        grain.push_back(g);
      }
    }
  }
  std::vector<SweepReport> reports = BuildReports(grain, {});
  SweepSource source;
  source.name = "s";
  source.source_path = "sweeps/<mine>.toml";
  source.source_text = "name = \"s\"\nseed = 42\n[models.\"sim:strong\"]\np_correct = 0.9\n";
  source.seed = 42;
  source.created_ms = 1'700'000'000'000;
  source.updated_ms = 1'700'000'360'000;
  reports[0].source = source;
  return reports;
}

HtmlAssets Template() {
  HtmlAssets a;
  a.template_html = "@BODY@<script type=\"application/json\">@SPECS_JSON@</script>";
  return a;
}

TEST(ReportSettingsTest, SimulatedModelsAreLabelled) {
  const std::string md = FormatMarkdown(Reports(3));
  EXPECT_NE(md.find("model sim:strong (simulated)"), std::string::npos) << md;
  EXPECT_NE(md.find("| sim:strong (simulated) |"), std::string::npos);
  EXPECT_EQ(md.find("openai:gpt-4o (simulated)"), std::string::npos);
  const std::string html = RenderHtml(Reports(3), Template(), "t");
  EXPECT_NE(html.find("sim:strong (simulated)"), std::string::npos);
}

TEST(ReportSettingsTest, TableTwoComesFirst) {
  const std::string md = FormatMarkdown(Reports(3));
  const size_t table2 = md.find("### Table 2"), table1 = md.find("### Table 1");
  ASSERT_NE(table2, std::string::npos);
  ASSERT_NE(table1, std::string::npos);
  EXPECT_LT(table2, table1);
}

TEST(ReportSettingsTest, HtmlRecordsProvenance) {
  const std::string html = RenderHtml(Reports(3), Template(), "t");
  EXPECT_NE(html.find("Provenance"), std::string::npos);
  EXPECT_NE(html.find("sweeps/&lt;mine&gt;.toml"), std::string::npos) << "escaped path";
  EXPECT_NE(html.find("seed 42"), std::string::npos);
  EXPECT_NE(html.find("p_correct = 0.9"), std::string::npos) << "the sweep file as written";
  EXPECT_NE(html.find("2023-11-14 22:13:20 UTC"), std::string::npos);
  EXPECT_NE(html.find("Report drawn by codesweep 0."), std::string::npos);
}

TEST(ReportSettingsTest, ComplexityChartsDrawConfidenceIntervals) {
  std::vector<SweepReport> reports = Reports(3);
  ASSERT_FALSE(reports[0].complexity.empty());
  for (const ComplexityPoint& p : reports[0].complexity) {
    EXPECT_LE(p.success_lo_pct, p.success_pct);
    EXPECT_GE(p.success_hi_pct, p.success_pct);
  }
  const nlohmann::json specs = ChartSpecs(reports[0], 0);
  bool errorbar = false;
  for (const auto& c : specs) {
    if (c["id"] != "chart-0-success") continue;
    for (const auto& layer : c["spec"]["spec"]["layer"]) {
      errorbar = errorbar || layer["mark"]["type"] == "errorbar";
    }
  }
  EXPECT_TRUE(errorbar);
}

TEST(ReportSettingsTest, SixteenMethodsGetSixteenColours) {
  std::vector<SweepReport> reports = Reports(18);
  const nlohmann::json specs = ChartSpecs(reports[0], 0);
  int charts_with_colour = 0;
  for (const auto& c : specs) {
    const std::string dump = c["spec"].dump();
    if (dump.find("\"range\"") == std::string::npos) continue;
    ++charts_with_colour;
    const nlohmann::json* color = nullptr;
    if (c["spec"].contains("spec")) color = &c["spec"]["spec"]["encoding"]["color"];
    if (c["spec"].contains("hconcat")) color = &c["spec"]["hconcat"][0]["encoding"]["color"];
    ASSERT_NE(color, nullptr) << c["id"];
    std::set<std::string> colours;
    for (const auto& v : (*color)["scale"]["range"]) colours.insert(v.get<std::string>());
    EXPECT_EQ(colours.size(), 18u) << c["id"] << ": a colour is used for two methods";
    EXPECT_EQ((*color)["scale"]["domain"].size(), 18u);
  }
  EXPECT_GE(charts_with_colour, 3);
}

}  // namespace
}  // namespace codesweep
