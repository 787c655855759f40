// The HTML page without a browser: one pass of placeholder substitution, scripts inlined and
// escaped, one chart container per spec, and names from the database escaped.
#include "report/html.h"

#include <gtest/gtest.h>

#include <string>

#include "report/report.h"

namespace codesweep {
namespace {

std::vector<SweepReport> OneReport() {
  std::vector<GrainRow> grain;
  for (const char* level : {"1", "2"}) {
    for (const char* method : {"a", "b"}) {
      GrainRow g;
      g.sweep = "s<1>";
      g.model = "m";
      g.task = "t";
      g.method = method;
      g.complexity = level;
      g.complexity_order = level[0];
      g.n = 10;
      g.correct = method[0] == 'a' ? 7 : 3;
      g.score_sum = static_cast<double>(g.correct);
      g.code_used = 5;
      g.tokens_in = 100;
      g.wall_ms = 1000;
      grain.push_back(g);
    }
  }
  return BuildReports(grain, {});
}

TEST(HtmlTest, InlinesScriptsEscapesAndDrawsOneContainerPerChart) {
  HtmlAssets a;
  a.template_html =
      "<title>@TITLE@</title>@BODY@<script>@VEGA_JS@</script>"
      "<script>@VEGA_LITE_JS@</script><script>@VEGA_EMBED_JS@</script>"
      "<script type=\"application/json\">@SPECS_JSON@</script>@UNKNOWN@";
  a.vega_js = "var s = '</script>'; var r = /</; // @BODY@";
  a.vega_lite_js = "VL";
  a.vega_embed_js = "VE";
  std::vector<SweepReport> reports = OneReport();
  const std::string html = RenderHtml(reports, a, "T & <b>");
  EXPECT_NE(html.find("<title>T &amp; &lt;b&gt;</title>"), std::string::npos);
  EXPECT_NE(html.find("var s = '<\\/script>'; var r = /</; // @BODY@"), std::string::npos)
      << "only </script is escaped in JS, and text inside values is not substituted again";
  EXPECT_NE(html.find("@UNKNOWN@"), std::string::npos);
  EXPECT_NE(html.find("Sweep s&lt;1&gt;"), std::string::npos);
  EXPECT_EQ(ChartSpecs(reports[0], 0).size(), 4u);
  size_t containers = 0;
  for (size_t at = html.find("class=\"chart\""); at != std::string::npos;
       at = html.find("class=\"chart\"", at + 1)) {
    ++containers;
  }
  EXPECT_EQ(containers, 4u);
  EXPECT_EQ(html.find("</script><script>VL"), html.find("</script><script>VL"));
}

TEST(HtmlTest, NoComplexityChartsWithOneLevel) {
  std::vector<GrainRow> grain(1);
  grain[0].sweep = "s";
  grain[0].model = "m";
  grain[0].task = "t";
  grain[0].method = "a";
  grain[0].n = 4;
  grain[0].correct = 2;
  std::vector<SweepReport> reports = BuildReports(grain, {});
  ASSERT_EQ(reports.size(), 1u);
  EXPECT_TRUE(reports[0].complexity.empty());
  EXPECT_EQ(ChartSpecs(reports[0], 0).size(), 2u);  // Table 2 bars and score vs cost
}

}  // namespace
}  // namespace codesweep
