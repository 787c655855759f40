// Text that reaches the database is valid UTF-8 whatever the model and its code produced:
// Python's sqlite3 (and so pandas) reads every text column of every table and view. Before the
// store repaired text on the way in, `SELECT * FROM v_results` failed in Python with "Could not
// decode to UTF-8". `show` never sends a control character to the terminal.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <string>

#include "base/utf8.h"
#include "coordinator/store/report_queries.h"
#include "coordinator/store/store.h"
#include "report/show.h"
#include "tests/unit/report/report_fixture.h"

namespace codesweep {
namespace {

// Multi-byte answers (x, /, CJK, U+FFFD, emoji), a character cut in half, bytes that are never
// UTF-8, and terminal escape sequences (ESC, BEL, C1 CSI).
const std::string kHostile =
    "6 \xC3\x97 7 \xC3\xB7 1 = \xE4\xB8\xAD\xEF\xBF\xBD\xF0\x9F\x98\x80 \xE4\xB8 \xFF\xFE\xC0\xAF "
    "\x1b[2J\x1b]0;pwned\x07 \xC2\x9B"
    "31m";

Outcome HostileOutcome(const testing::FixtureCell&) {
  Outcome o = testing::SimpleOutcome(false, true, 0, 10, 10, 10, 0);
  o.final_answer = kHostile;
  o.verdict_reason = "expected 42, got " + kHostile;
  o.calls[0].response_json = "{\"content\":\"" + kHostile + "\"}";
  o.executions[0].code = "print('" + kHostile + "')";
  o.executions[0].stdout_text = kHostile;
  o.executions[0].stderr_text = kHostile.substr(0, 25);  // ends inside a character
  return o;
}

class Utf8DbTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/cs_utf8_db_XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    path_ = dir_ + "/u.db";
    auto store = Store::Open(path_, StoreOptions{});
    ASSERT_TRUE(store.ok()) << store.status().message();
    testing::FixtureSpec spec;
    spec.models = {"sim:x"};
    spec.methods = {"all_code"};
    spec.tasks = {{"game24", {"4"}}};
    spec.samples = 3;
    ASSERT_TRUE(testing::FillFixture(**store, spec, HostileOutcome).ok());
    ASSERT_TRUE((*store)->Commit().ok());
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string dir_, path_;
};

TEST_F(Utf8DbTest, PythonReadsEveryTextColumnOfEveryTableAndView) {
  const std::string script = dir_ + "/read.py";
  FILE* f = std::fopen(script.c_str(), "w");
  ASSERT_NE(f, nullptr);
  std::fputs(
      "import sqlite3, sys\n"
      "db = sqlite3.connect('file:' + sys.argv[1] + '?mode=ro', uri=True)\n"
      "names = [r[0] for r in db.execute(\"SELECT name FROM sqlite_schema WHERE type IN "
      "('table', 'view') AND name NOT LIKE 'sqlite_%'\")]\n"
      "rows = 0\n"
      "for n in names:\n"
      "    rows += len(db.execute('SELECT * FROM \"%s\"' % n).fetchall())\n"
      "hostile = db.execute('SELECT final_answer FROM v_results').fetchall()\n"
      "assert len(hostile) == 3, hostile\n"
      "assert '\\u00d7' in hostile[0][0] and '\\U0001F600' in hostile[0][0], hostile[0][0]\n"
      "print('ok', len(names), 'relations', rows, 'rows')\n",
      f);
  std::fclose(f);
  FILE* p = popen(("python3 " + script + " " + path_ + " 2>&1").c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string out;
  char buf[4096];
  while (size_t n = std::fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  EXPECT_EQ(pclose(p), 0) << out;
  EXPECT_EQ(out.rfind("ok ", 0), 0u) << out;
}

TEST_F(Utf8DbTest, ShowEscapesControlCharacters) {
  auto db = ReportDb::Open(path_);
  ASSERT_TRUE(db.ok()) << db.status().message();
  auto jobs = (*db)->FindJobs("1", 2);
  ASSERT_TRUE(jobs.ok() && !jobs->empty());
  auto t = (*db)->LoadTrajectory(jobs->front());
  ASSERT_TRUE(t.ok()) << t.status().message();
  for (size_t max_chars : {size_t{0}, size_t{21}, size_t{22}, size_t{23}}) {
    const std::string text = FormatTrajectory(*t, ShowOptions{max_chars});
    EXPECT_TRUE(IsValidUtf8(text)) << max_chars;
    EXPECT_EQ(text.find('\x1b'), std::string::npos);
    EXPECT_EQ(text.find('\x07'), std::string::npos);
    EXPECT_EQ(text.find("\xC2\x9B"), std::string::npos);
    if (max_chars == 0) {
      EXPECT_NE(text.find("\\x1b[2J"), std::string::npos) << "the escape is shown, not dropped";
    }
  }
}

}  // namespace
}  // namespace codesweep
