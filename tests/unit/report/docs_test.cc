// docs/reports.md shows the report views' SQL verbatim: every CREATE VIEW statement of
// report/sql/0002_report_views.sql (without its comments) must appear there unchanged.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>

namespace {

std::string ReadSource(const std::string& relative) {
  std::ifstream in(std::string(CODESWEEP_SOURCE_DIR) + "/" + relative);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(ReportDocsTest, EveryViewStatementIsInTheDocs) {
  const std::string sql = ReadSource("report/sql/0002_report_views.sql");
  const std::string docs = ReadSource("docs/reports.md");
  ASSERT_FALSE(sql.empty());
  ASSERT_FALSE(docs.empty());
  int views = 0;
  size_t pos = 0;
  while (pos < sql.size()) {
    size_t end = sql.find("\n\n", pos);
    if (end == std::string::npos) end = sql.size();
    std::istringstream block(sql.substr(pos, end - pos));
    std::string line, statement;
    while (std::getline(block, line)) {
      if (line.rfind("--", 0) == 0) continue;
      statement += (statement.empty() ? "" : "\n") + line;
    }
    if (statement.find("CREATE VIEW") != std::string::npos) {
      ++views;
      EXPECT_NE(docs.find(statement), std::string::npos)
          << "docs/reports.md lacks or differs from:\n"
          << statement;
    }
    pos = end + 2;
  }
  EXPECT_EQ(views, 8);
}

}  // namespace
