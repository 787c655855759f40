// Tasks through the real `codesweep` binary: a sim run records on every result where its answer
// came from (<<<>>> or a fallback) and `report` shows both counts; the sandbox offers the
// packages of the original harness that Debian packages (docs/sandbox.md).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>

#include "tests/integration/engine/harness.h"

namespace codesweep::testing {
namespace {

using ::testing::HasSubstr;

std::string Write(const TempDir& dir, const std::string& name, const std::string& text) {
  std::string path = dir / name;
  std::ofstream(path) << text;
  return path;
}

TEST(TasksIntegration, SimRunRecordsAnswerSourceAndReportShowsIt) {
  TempDir dir;
  std::string sweep = Write(dir, "src.toml",
                            "name = \"src\"\nseed = 3\nsamples = 6\n"
                            "methods = [\"only_question\", \"all_code\"]\n\n"
                            "[[tasks]]\nname = \"bbh_web_of_lies\"\ncomplexity = [\"\"]\n\n"
                            "[[tasks]]\nname = \"path_plan\"\ncomplexity = [\"\"]\n\n"
                            "[models.\"sim:m\"]\np_correct = 0.7\np_code = 0.5\n");
  std::string db = dir / "src.db";
  Proc run({Binary(), "run", sweep, "--db", db, "--quiet"}, dir / "run.log");
  ASSERT_TRUE(run.Wait(180'000));
  ASSERT_EQ(run.exit_code(), 0) << run.log();
  EXPECT_EQ(QueryInt(db, "SELECT count(*) FROM results"), 24);
  EXPECT_EQ(QueryInt(db,
                     "SELECT count(*) FROM results WHERE answer_source NOT IN"
                     " ('tags', 'fallback', 'none')"),
            0);
  EXPECT_GT(QueryInt(db, "SELECT count(*) FROM results WHERE answer_source = 'tags'"), 0);
  EXPECT_EQ(QueryInt(db, "SELECT sum(n) FROM v_answer_source"), 24);
  EXPECT_EQ(QueryInt(db,
                     "SELECT sum(correct_tagged) + sum(correct_fallback) FROM"
                     " v_answer_source"),
            QueryInt(db,
                     "SELECT count(*) FROM results WHERE correct AND answer_source IN"
                     " ('tags', 'fallback')"));

  Proc md({Binary(), "report", "--db", db, "--format", "md"}, dir / "md.log");
  ASSERT_TRUE(md.Wait(60'000));
  EXPECT_EQ(md.exit_code(), 0) << md.log();
  EXPECT_THAT(md.log(), HasSubstr("Where the answers came from"));
  EXPECT_THAT(md.log(), HasSubstr("Correct (fallback)"));
  Proc js({Binary(), "report", "--db", db, "--format", "json"}, dir / "json.log");
  ASSERT_TRUE(js.Wait(60'000));
  EXPECT_THAT(js.log(), HasSubstr("\"correct_fallback\""));
}

TEST(TasksIntegration, ExecInfoListsPandasAndASandboxImportsIt) {
  TempDir dir;
  Proc info({Binary(), "exec", "--info"}, dir / "info.log");
  ASSERT_TRUE(info.Wait(60'000));
  ASSERT_EQ(info.exit_code(), 0) << info.log();
  EXPECT_THAT(info.log(), HasSubstr("[pandas "));
  // python-constraint is not packaged in Debian 12: listed, as not importable, unless installed.
  EXPECT_THAT(info.log(), HasSubstr("[constraint"));
  std::string code = Write(dir, "p.py",
                           "import pandas as pd\n"
                           "print(int(pd.DataFrame({'a': [1, 2, 3]})['a'].sum()))\n");
  Proc exec({Binary(), "exec", code}, dir / "exec.log");
  ASSERT_TRUE(exec.Wait(60'000));
  EXPECT_EQ(exec.exit_code(), 0) << exec.log();
  EXPECT_THAT(exec.log(), HasSubstr("6\n"));
  EXPECT_THAT(exec.log(), HasSubstr("status=ok"));
}

}  // namespace
}  // namespace codesweep::testing
