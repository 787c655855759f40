// docs/reports.md shows the report views' SQL verbatim: the current CREATE VIEW statement of every
// view of report/sql/*views.sql (without its comments) must appear there unchanged.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

namespace {

std::string ReadSource(const std::string& relative) {
  std::ifstream in(std::string(CODESWEEP_SOURCE_DIR) + "/" + relative);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// The CREATE VIEW statements (comments dropped) of one migration, by view name.
std::map<std::string, std::string> ViewStatements(const std::string& sql) {
  std::map<std::string, std::string> out;
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
    const std::string create = "CREATE VIEW ";
    if (statement.rfind(create, 0) == 0) {
      out[statement.substr(create.size(), statement.find(' ', create.size()) - create.size())] =
          statement;
    }
    pos = end + 2;
  }
  return out;
}

// The current definition of every report view: a later views migration replaces an earlier one.
TEST(ReportDocsTest, EveryViewStatementIsInTheDocs) {
  std::vector<std::string> files;
  for (const auto& e :
       std::filesystem::directory_iterator(std::string(CODESWEEP_SOURCE_DIR) + "/report/sql")) {
    if (e.path().filename().string().ends_with("views.sql")) files.push_back(e.path().filename());
  }
  std::sort(files.begin(), files.end());
  ASSERT_GE(files.size(), 2u);
  std::map<std::string, std::string> views;
  for (const std::string& f : files) {
    const std::string sql = ReadSource("report/sql/" + f);
    ASSERT_FALSE(sql.empty()) << f;
    for (auto& [name, statement] : ViewStatements(sql)) views[name] = statement;
  }
  const std::string docs = ReadSource("docs/reports.md");
  ASSERT_FALSE(docs.empty());
  for (const auto& [name, statement] : views) {
    EXPECT_NE(docs.find(statement), std::string::npos)
        << "docs/reports.md lacks or differs from the current " << name << ":\n"
        << statement;
  }
  EXPECT_EQ(views.size(), 13u);  // v_results joined them in 0008, v_answer_source in 0010
}

}  // namespace
