// `codesweep view` without a socket: ViewServer::Handle over a real store filled through the Store
// API (tests/unit/report/report_fixture.h): routing, access control, the security headers, and
// every JSON endpoint's answer against what the store holds.
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <stdlib.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "coordinator/store/store.h"
#include "tests/unit/report/report_fixture.h"
#include "view/api.h"
#include "view/server.h"

namespace codesweep::view {
namespace {

using json = nlohmann::json;
using codesweep::testing::FixtureCell;
using codesweep::testing::FixtureSpec;

// Runs `sql` on the test database through a connection of its own (a writer beside the viewer).
void Exec(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  char* error = nullptr;
  EXPECT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error), SQLITE_OK)
      << (error ? error : "") << "\n"
      << sql;
  sqlite3_free(error);
  sqlite3_close(db);
}

// One number from `sql` on the test database.
int64_t QueryInt(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  EXPECT_EQ(sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr), SQLITE_OK) << sql;
  int64_t out = -1;
  if (stmt != nullptr && sqlite3_step(stmt) == SQLITE_ROW) out = sqlite3_column_int64(stmt, 0);
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return out;
}

class ViewApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/cs_view_test_XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    db_ = dir_ + "/view.db";
    StoreOptions options;
    options.synchronous_full = false;
    auto store = Store::Open(db_, options);
    ASSERT_TRUE(store.ok()) << store.status().message();
    FixtureSpec spec;
    spec.sweep = "demo";
    spec.models = {"sim:large", "sim:small"};
    spec.methods = {"only_question", "all_code"};
    spec.tasks = {{"game24", {"2", "3"}}, {"number_multiply", {"1_1"}}};
    spec.samples = 30;  // 2 models x 2 methods x 3 levels x 30 = 360 cells
    auto filled = codesweep::testing::FillFixture(**store, spec, [](const FixtureCell& c) {
      const bool code = c.method == "all_code";
      return codesweep::testing::SimpleOutcome(code || c.sample % 2 == 0, code, 1.0, 10, 5, 7,
                                               0.001);
    });
    ASSERT_TRUE(filled.ok()) << filled.status().message();
    ASSERT_EQ(*filled, 360);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::unique_ptr<ViewServer> Server(const std::string& token = "") {
    auto s = ViewServer::Create({.db_path = db_, .token = token});
    EXPECT_TRUE(s.ok()) << s.status().message();
    return s.ok() ? std::move(*s) : nullptr;
  }
  static HttpResponse Get(ViewServer& s, const std::string& target, HeaderList headers = {}) {
    HttpRequest r{.method = "GET", .path = target, .headers = std::move(headers)};
    if (size_t q = r.path.find('?'); q != std::string::npos) {
      r.query = r.path.substr(q + 1);
      r.path.resize(q);
    }
    return s.Handle(r);
  }
  static json Json(const HttpResponse& r) {
    json j = json::parse(r.body, nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << r.body;
    return j;
  }
  static std::string HeaderOf(const HttpResponse& r, const std::string& name) {
    for (const auto& [n, v] : r.headers) {
      if (n == name) return v;
    }
    return "";
  }

  std::string dir_, db_;
};

TEST(ViewQueryTest, DecodesPercentAndPlus) {
  Params p = ParseQuery("task=game%2024&q=a+b%3Cscript%3E&empty=&bad=%zz&x");
  EXPECT_EQ(p["task"], "game 24");
  EXPECT_EQ(p["q"], "a b<script>");
  EXPECT_EQ(p["empty"], "");
  EXPECT_EQ(p["bad"], "%zz");
  EXPECT_EQ(p.count("x"), 1u);
  EXPECT_EQ(PercentDecode("%4", false), "%4");  // a cut escape stays as it is
  EXPECT_TRUE(IsLoopback("127.0.0.1"));
  EXPECT_TRUE(IsLoopback("::1"));
  EXPECT_FALSE(IsLoopback("0.0.0.0"));
  EXPECT_FALSE(IsLoopback("192.168.1.2"));
  EXPECT_FALSE(IsLoopback("127.0.0.1.evil.example"));
  EXPECT_TRUE(IsLoopback("127.1.2.3"));
}

TEST_F(ViewApiTest, ServesThePageWithAStrictPolicy) {
  auto s = Server();
  ASSERT_NE(s, nullptr);
  HttpResponse page = Get(*s, "/");
  EXPECT_EQ(page.status, 200);
  EXPECT_NE(page.body.find("/app.js"), std::string::npos);
  EXPECT_EQ(page.content_type, "text/html; charset=utf-8");
  const std::string csp = HeaderOf(page, "Content-Security-Policy");
  EXPECT_NE(csp.find("script-src 'self'"), std::string::npos);
  EXPECT_EQ(csp.find("unsafe-inline'; style"), std::string::npos) << "no inline scripts";
  EXPECT_EQ(HeaderOf(page, "X-Content-Type-Options"), "nosniff");
  EXPECT_EQ(Get(*s, "/vendor/vega.min.js").status, 200);
  EXPECT_EQ(Get(*s, "/vendor/LICENSE.vega").status, 200);
  EXPECT_EQ(Get(*s, "/nope").status, 404);
  EXPECT_EQ(Get(*s, "/api/nope").status, 404);
  HttpRequest post{.method = "POST", .path = "/api/cells"};
  EXPECT_EQ(s->Handle(post).status, 405);
}

TEST_F(ViewApiTest, ALoopbackServerAnswersOnlyLoopbackHostNames) {
  auto s = Server();
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(Get(*s, "/api/sweeps", {{"Host", "127.0.0.1:8765"}}).status, 200);
  EXPECT_EQ(Get(*s, "/api/sweeps", {{"Host", "localhost:8765"}}).status, 200);
  EXPECT_EQ(Get(*s, "/api/sweeps", {{"Host", "[::1]:8765"}}).status, 200);
  EXPECT_EQ(Get(*s, "/api/sweeps", {{"Host", "evil.example:8765"}}).status, 403);
  EXPECT_EQ(Get(*s, "/", {{"Host", "127.0.0.1.evil.example"}}).status, 403);
}

TEST_F(ViewApiTest, ATokenIsNeededOnceThenKeptInACookie) {
  auto s = Server("secret123");
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(Get(*s, "/").status, 403);
  EXPECT_EQ(Get(*s, "/api/sweeps").status, 403);
  EXPECT_EQ(Get(*s, "/?token=wrong").status, 403);
  HttpResponse ok = Get(*s, "/?token=secret123");
  EXPECT_EQ(ok.status, 200);
  EXPECT_NE(HeaderOf(ok, "Set-Cookie").find("HttpOnly"), std::string::npos);
  EXPECT_EQ(Get(*s, "/api/sweeps", {{"Cookie", "a=b; codesweep_view_token=secret123"}}).status,
            200);
  EXPECT_EQ(Get(*s, "/api/sweeps", {{"Cookie", "xcodesweep_view_token=secret123"}}).status, 403);
}

TEST_F(ViewApiTest, SweepsCountEveryState) {
  auto s = Server();
  ASSERT_NE(s, nullptr);
  json j = Json(Get(*s, "/api/sweeps"));
  ASSERT_EQ(j["sweeps"].size(), 1u);
  EXPECT_EQ(j["sweeps"][0]["name"], "demo");
  EXPECT_EQ(j["sweeps"][0]["total"], 360);
  EXPECT_EQ(j["sweeps"][0]["done"], 360);
  EXPECT_EQ(j["sweeps"][0]["pending"], 0);
  EXPECT_EQ(j["sweeps"][0]["last_minute"], 0);  // the fixture finished its cells long ago
  EXPECT_EQ(j["sweeps"][0]["calls"], 360);
  EXPECT_NEAR(j["sweeps"][0]["cost_usd"].get<double>(), 0.36, 1e-9);
  // A call paid while the viewer runs counts at the next refresh (the writer keeps the sums).
  Exec(db_,
       "INSERT INTO calls (job_id, lease_token, idx, turn, call_key, request_json, response_json,"
       " tokens_in, tokens_out, tokens_estimated, latency_ms, http_status, attempts,"
       " rate_limited, cost_usd, cached, error) SELECT job_id, lease_token, idx + 1, turn,"
       " call_key, request_json, response_json, tokens_in, tokens_out, tokens_estimated,"
       " latency_ms, 429, attempts, 1, 0.25, cached, error FROM calls WHERE job_id = 1;");
  HttpResponse again = Get(*s, "/api/sweeps");
  j = Json(again);
  EXPECT_EQ(j["sweeps"][0]["calls"], 361);
  EXPECT_EQ(j["sweeps"][0]["rate_limited"], 1);
  EXPECT_NEAR(j["sweeps"][0]["cost_usd"].get<double>(), 0.61, 1e-9);
  EXPECT_EQ(HeaderOf(again, "Server-Timing").rfind("app;dur=", 0), 0u);  // the server's time
}

TEST_F(ViewApiTest, SweepsAreCountedApartWhenThereAreSeveral) {
  {
    auto store = Store::Open(db_, {});
    ASSERT_TRUE(store.ok());
    FixtureSpec spec;
    spec.sweep = "other";
    spec.models = {"sim:large"};
    spec.methods = {"only_question"};
    spec.tasks = {{"game24", {"2"}}};
    spec.samples = 2;
    auto filled = codesweep::testing::FillFixture(**store, spec, [](const FixtureCell&) {
      return codesweep::testing::SimpleOutcome(true, false, 1.0, 10, 5, 7, 0.5);
    });
    ASSERT_TRUE(filled.ok()) << filled.status().message();
  }
  auto s = Server();
  ASSERT_NE(s, nullptr);
  json j = Json(Get(*s, "/api/sweeps"));
  ASSERT_EQ(j["sweeps"].size(), 2u);
  EXPECT_EQ(j["sweeps"][0]["total"], 360);
  EXPECT_EQ(j["sweeps"][0]["done"], 360);
  EXPECT_EQ(j["sweeps"][1]["name"], "other");
  EXPECT_EQ(j["sweeps"][1]["total"], 2);
  EXPECT_EQ(j["sweeps"][1]["done"], 2);
  EXPECT_NEAR(j["sweeps"][1]["cost_usd"].get<double>(), 1.0, 1e-9);
  EXPECT_EQ(Json(Get(*s, "/api/cells?sweep=other"))["matches"], 2);
}

TEST_F(ViewApiTest, CellsFilterAndPageWithoutGapsOrRepeats) {
  auto s = Server();
  ASSERT_NE(s, nullptr);
  json all = Json(Get(*s, "/api/cells?sweep=demo"));
  EXPECT_EQ(all["matches"], 360);
  EXPECT_EQ(all["cells"].size(), 50u);
  EXPECT_FALSE(all["has_prev"].get<bool>());
  json f = Json(Get(*s,
                    "/api/cells?sweep=demo&model=sim%3Asmall&method=only_question"
                    "&status=incorrect&task=game24"));
  EXPECT_EQ(f["matches"], 30);  // 2 levels x 15 odd samples
  for (const json& c : f["cells"]) {
    EXPECT_EQ(c["model"], "sim:small");
    EXPECT_EQ(c["correct"], 0);
    EXPECT_EQ(c["task"], "game24");
  }
  // Forward through every page of correct cells, then one page back.
  std::set<int64_t> seen;
  std::string after = "0";
  json page;
  int pages = 0;
  do {
    page = Json(Get(*s, "/api/cells?status=correct&after=" + after));
    for (const json& c : page["cells"]) EXPECT_TRUE(seen.insert(c["id"].get<int64_t>()).second);
    if (!page["cells"].empty()) after = std::to_string(page["cells"].back()["id"].get<int64_t>());
    ++pages;
  } while (page["has_next"].get<bool>() && pages < 100);
  EXPECT_EQ(seen.size(), 270u);  // all_code always, only_question on even samples
  EXPECT_EQ(pages, 6);
  json back = Json(Get(*s, "/api/cells?status=correct&before=" +
                               std::to_string(page["cells"][0]["id"].get<int64_t>())));
  EXPECT_EQ(back["cells"].size(), 50u);
  EXPECT_LT(back["cells"].back()["id"].get<int64_t>(), page["cells"][0]["id"].get<int64_t>());
  json by_source = Json(Get(*s, "/api/cells?answer_source=x"));  // results.answer_source exists
  EXPECT_TRUE(by_source["answer_source"].get<bool>());
  EXPECT_EQ(by_source["matches"], 0);  // no result's answer came from "x"
  EXPECT_EQ(Json(Get(*s, "/api/cells?q=answer+is+41"))["matches"], 180);  // every text reply
  EXPECT_EQ(Json(Get(*s, "/api/cells?q=100%25"))["matches"], 0);          // % is literal
  EXPECT_EQ(Json(Get(*s, "/api/cells?turns=x&after=-5"))["matches"], 0);
  json count_only = Json(Get(*s, "/api/cells?task=game24&rows=0"));
  EXPECT_EQ(count_only["matches"], 240);
  EXPECT_FALSE(count_only.contains("cells"));
  json rows_only = Json(Get(*s, "/api/cells?task=game24&count=0"));
  EXPECT_FALSE(rows_only.contains("matches"));
  EXPECT_EQ(rows_only["cells"].size(), 50u);
}

TEST_F(ViewApiTest, ACellIsItsWholeTrajectory) {
  auto s = Server();
  ASSERT_NE(s, nullptr);
  json code = Json(Get(*s, "/api/cells?method=all_code"));
  const int64_t id = code["cells"][0]["id"];
  json c = Json(Get(*s, "/api/cell?id=" + std::to_string(id)));
  EXPECT_EQ(c["method"], "all_code");
  ASSERT_EQ(c["executions"].size(), 1u);
  EXPECT_EQ(c["executions"][0]["code"], "print(6*7)");
  EXPECT_EQ(c["executions"][0]["stdout"], "42\n");
  EXPECT_EQ(c["verdict"]["reason"], "answer matches");
  EXPECT_EQ(c["attempts"].size(), 1u);
  EXPECT_EQ(Get(*s, "/api/cell?id=999999").status, 404);
  HttpResponse bad = Get(*s, "/api/cell?id=abc");
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(bad.body.find("InvalidArgument"), std::string::npos) << bad.body;
}

TEST_F(ViewApiTest, CompareCountsAgreeWithThePairs) {
  auto s = Server();
  ASSERT_NE(s, nullptr);
  json c = Json(Get(*s,
                    "/api/compare?sweep=demo&dim=method&a=only_question&b=all_code"
                    "&model=sim%3Alarge"));
  EXPECT_EQ(c["counts"]["pairs"], 90);
  EXPECT_EQ(c["counts"]["only_b"], 45);
  EXPECT_EQ(c["counts"]["both_correct"], 45);
  ASSERT_EQ(c["pairs"].size(), 90u);
  EXPECT_EQ(c["pairs"][0]["a_correct"], 0);  // disagreements first
  EXPECT_EQ(c["pairs"][89]["a_correct"], 1);
  json m = Json(Get(*s, "/api/compare?sweep=demo&dim=model&a=sim%3Alarge&b=sim%3Asmall"));
  EXPECT_EQ(m["counts"]["pairs"], 180);
  EXPECT_EQ(Get(*s, "/api/compare?sweep=demo&dim=task&a=x&b=y").status, 400);
}

// Compare from the writer-kept outcome strings (view_outcomes, migration 0020) equals Compare
// from the jobs and results themselves (from=jobs, the straightforward query), counts and every
// page, before and after results are deleted, re-judged, added back, and added for new cells and
// a new method while the viewer runs.
TEST_F(ViewApiTest, CompareFromTheKeptOutcomesEqualsTheJobsAndFollowsEveryWrite) {
  auto s = Server();
  ASSERT_NE(s, nullptr);
  const std::vector<std::string> queries = {
      "dim=method&a=only_question&b=all_code&model=sim%3Alarge",
      "dim=method&a=all_code&b=only_question",
      "dim=method&a=all_code&b=only_question&offset=100",
      "dim=method&a=all_code&b=only_question&offset=150",
      "dim=method&a=only_question&b=only_question&model=sim%3Asmall",
      "dim=method&a=only_question&b=new_method",
      "dim=method&a=nosuch&b=all_code",
      "dim=model&a=sim%3Alarge&b=sim%3Asmall",
      "dim=model&a=sim%3Alarge&b=sim%3Asmall&offset=100",
      "dim=model&a=sim%3Asmall&b=sim%3Alarge&method=all_code&task=game24",
      "dim=model&a=sim%3Asmall&b=sim%3Alarge&turns=1&task=number_multiply",
  };
  auto same = [&](const std::string& when) {
    for (const std::string& q : queries) {
      SCOPED_TRACE(when + ": " + q);
      const std::string url = "/api/compare?sweep=demo&" + q;
      json kept = Json(Get(*s, url));
      json jobs = Json(Get(*s, url + "&from=jobs"));
      EXPECT_EQ(kept, jobs);
      EXPECT_LE(kept["pairs"].size(), kept["page_size"].get<size_t>());
    }
  };
  same("as filled");
  // The counts against a plain self-join of the jobs, and each row's cells are its sample's.
  json c = Json(Get(*s, "/api/compare?sweep=demo&dim=method&a=all_code&b=only_question"));
  const std::string pair =
      "FROM jobs a JOIN jobs b ON b.sweep_id = a.sweep_id AND b.task = a.task AND b.complexity ="
      " a.complexity AND b.sample = a.sample AND b.turns = a.turns AND b.variant_id = a.variant_id"
      " AND a.method = 'all_code' AND b.method = 'only_question'"
      " JOIN results ra ON ra.job_id = a.id JOIN results rb ON rb.job_id = b.id";
  EXPECT_EQ(c["counts"]["pairs"], QueryInt(db_, "SELECT count(*) " + pair));
  EXPECT_EQ(c["counts"]["only_a"],
            QueryInt(db_, "SELECT count(*) " + pair + " WHERE ra.correct AND NOT rb.correct"));
  EXPECT_EQ(c["counts"]["only_a"], 90);
  EXPECT_EQ(c["counts"]["disagree"], 90);
  EXPECT_EQ(c["rows"], 180);
  ASSERT_EQ(c["pairs"].size(), 100u);
  for (const json& r : c["pairs"]) {
    EXPECT_EQ(QueryInt(db_, "SELECT count(*) FROM jobs WHERE id = " + r["a_id"].dump() +
                                " AND method = 'all_code' AND sample = " + r["sample"].dump() +
                                " AND task = '" + r["task"].get<std::string>() + "'"),
              1);
    EXPECT_EQ(QueryInt(db_, "SELECT count(*) FROM jobs WHERE id = " + r["b_id"].dump() +
                                " AND method = 'only_question' AND sample = " + r["sample"].dump() +
                                " AND variant_id = " + r["variant_id"].dump()),
              1);
  }
  EXPECT_EQ(c["pairs"][89]["b_correct"], 0);  // the 90 disagreements, then agreements
  EXPECT_EQ(c["pairs"][90]["b_correct"], 1);
  Exec(db_,
       "CREATE TEMP TABLE keep AS SELECT * FROM results WHERE job_id IN (7, 8);"
       "DELETE FROM results WHERE job_id IN (5, 6, 7, 8, 40, 41, 42);"
       "UPDATE results SET correct = 1 - correct WHERE job_id IN (9, 10, 11, 100, 200, 300);"
       "INSERT INTO results SELECT * FROM keep;"
       // A new cell with a result and no partner, and a new method on an old sample.
       "INSERT INTO jobs (cell_key, sweep_id, task, complexity, sample, variant_id, method,"
       " turns, state, created_ms, updated_ms) SELECT randomblob(32), sweep_id, task,"
       " complexity, sample + 1000, variant_id, method, turns, 'done', 0, 0 FROM jobs"
       " WHERE id = 3;"
       "INSERT INTO jobs (cell_key, sweep_id, task, complexity, sample, variant_id, method,"
       " turns, state, created_ms, updated_ms) SELECT randomblob(32), sweep_id, task,"
       " complexity, sample, variant_id, 'new_method', turns, 'done', 0, 0 FROM jobs"
       " WHERE id IN (12, 13);"
       "CREATE TEMP TABLE extra AS SELECT * FROM results WHERE job_id IN (1, 2, 3);"
       "UPDATE extra SET job_id = job_id + 360, correct = 1 - correct;"
       "INSERT INTO results SELECT * FROM extra;");
  ASSERT_EQ(QueryInt(db_, "SELECT count(*) FROM results WHERE job_id > 360"), 3);
  same("after writes");
  EXPECT_EQ(QueryInt(db_, "SELECT count(*) FROM view_outcomes WHERE trim(outcomes) = ''"), 0);
  // Every result of one sample's pair gone: its row goes.
  Exec(db_, "DELETE FROM results WHERE job_id > 360;");
  same("after the new cells lost their results");
  EXPECT_EQ(QueryInt(db_, "SELECT count(*) FROM view_outcomes WHERE trim(outcomes) = ''"), 0);
}

TEST_F(ViewApiTest, ErrorsGroupFailedCellsWithTheirRetryCommand) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(db_.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db,
                         "UPDATE jobs SET state = 'failed', last_error = 'worker lost; it''s gone'"
                         " WHERE id IN (1, 2, 3);"
                         "UPDATE jobs SET state = 'dead', last_error = 'sandbox crashed'"
                         " WHERE id = 4;"
                         "DELETE FROM results WHERE job_id IN (1, 2, 3, 4);",
                         nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);
  auto s = Server();
  ASSERT_NE(s, nullptr);
  json e = Json(Get(*s, "/api/errors?sweep=demo"));
  ASSERT_EQ(e["groups"].size(), 3u) << e.dump();  // ids 1..3 span two methods
  int64_t failed = 0;
  for (const json& g : e["groups"]) {
    if (g["state"] == "failed") failed += g["cells"].get<int64_t>();
    const std::string retry = g["retry"];
    EXPECT_EQ(retry.rfind("codesweep retry SWEEP.toml --db " + db_ + " --state ", 0), 0u) << retry;
    EXPECT_NE(retry.find(" --model sim:large --method "), std::string::npos) << retry;
  }
  EXPECT_EQ(failed, 3);
  EXPECT_EQ(Json(Get(*s, "/api/cells?status=failed"))["matches"], 3);
  EXPECT_EQ(Json(Get(*s, "/api/cells?error=it%27s"))["matches"], 3);
  EXPECT_EQ(Json(Get(*s, "/api/sweeps"))["sweeps"][0]["dead"], 1);
}

// The Sweeps page's states, the filter lists and the cell list's counts come from view_states
// and view_grain (migrations 0013 and 0019), which the writer keeps: after jobs are added,
// change state, lose their results and are deleted while the viewer runs, every count still
// equals the jobs' own.
TEST_F(ViewApiTest, KeptCountsEqualTheJobsAndFollowEveryWrite) {
  auto s = Server();
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(Json(Get(*s, "/api/cells?status=done&rows=0"))["matches"], 360);
  Exec(db_,
       "INSERT INTO jobs (cell_key, sweep_id, task, complexity, sample, variant_id, method, turns,"
       " created_ms, updated_ms) SELECT randomblob(32), sweep_id, task, complexity, sample + 1000,"
       " variant_id, method, turns, 0, 0 FROM jobs WHERE id <= 7;"
       "UPDATE jobs SET state = 'failed', last_error = 'boom' WHERE id IN (10, 11, 12);"
       "UPDATE jobs SET state = 'dead', last_error = 'gone' WHERE id = 13;"
       "UPDATE jobs SET state = 'leased' WHERE id = 14;"
       "UPDATE jobs SET state = 'done', last_error = '' WHERE id = 14;"  // back: one row again
       // Two in flight (0020: a leased job is counted among the pending ones, and the viewer
       // takes the leased ones from them), one of them on a new cell.
       "UPDATE jobs SET state = 'leased' WHERE id IN (22, (SELECT max(id) FROM jobs));"
       "DELETE FROM results WHERE job_id = 15; UPDATE jobs SET method = 'all_code' WHERE id = 15;"
       "DELETE FROM results WHERE job_id IN (10, 11, 12, 13, 20, 21);"
       "UPDATE jobs SET state = 'pending' WHERE id IN (20, 21);"
       "DELETE FROM calls WHERE job_id = 30; DELETE FROM executions WHERE job_id = 30;"
       "DELETE FROM attempts WHERE job_id = 30; DELETE FROM results WHERE job_id = 30;"
       "DELETE FROM jobs WHERE id = 30;");
  const std::string results =
      "SELECT count(*) FROM jobs j JOIN results r ON r.job_id = j.id"
      " JOIN variants v ON v.id = j.variant_id WHERE ";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"", "SELECT count(*) FROM jobs"},
      {"status=failed", "SELECT count(*) FROM jobs WHERE state = 'failed'"},
      {"status=pending&method=all_code",
       "SELECT count(*) FROM jobs WHERE state = 'pending' AND method = 'all_code'"},
      {"status=pending", "SELECT count(*) FROM jobs WHERE state = 'pending'"},
      {"status=leased", "SELECT count(*) FROM jobs WHERE state = 'leased'"},
      {"status=leased&sweep=demo&model=sim%3Alarge",
       "SELECT count(*) FROM jobs WHERE state = 'leased' AND variant_id IN (SELECT id FROM"
       " variants WHERE model = 'sim:large')"},
      {"status=pending&sweep=demo&model=sim%3Alarge",
       "SELECT count(*) FROM jobs WHERE state = 'pending' AND variant_id IN (SELECT id FROM"
       " variants WHERE model = 'sim:large')"},
      {"sweep=demo&status=done&complexity=2&turns=1",
       "SELECT count(*) FROM jobs WHERE state = 'done' AND complexity = '2' AND turns = 1"},
      {"status=correct&model=sim%3Asmall&task=game24",
       results + "r.correct = 1 AND v.model = 'sim:small' AND j.task = 'game24'"},
      {"status=incorrect&sweep=demo", results + "r.correct = 0"},
      {"code_used=0&method=only_question",
       results + "r.code_used = 0 AND j.method = 'only_question'"},
      {"code_used=1", results + "r.code_used = 1"},
      {"status=correct&code_used=1", results + "r.correct = 1 AND r.code_used = 1"},
      {"status=dead&error=gon", "SELECT count(*) FROM jobs WHERE last_error = 'gone'"},
  };
  for (const auto& [query, sql] : cases) {
    SCOPED_TRACE(query);
    json c = Json(Get(*s, "/api/cells?rows=0&" + query));
    EXPECT_EQ(c["matches"].get<int64_t>(), QueryInt(db_, sql));
    EXPECT_FALSE(c["matches_capped"].get<bool>());
  }
  json sweep = Json(Get(*s, "/api/sweeps"))["sweeps"][0];
  EXPECT_EQ(sweep["total"], 366);
  for (const char* state : {"pending", "leased", "done", "failed", "dead"}) {
    EXPECT_EQ(sweep[state].get<int64_t>(),
              QueryInt(db_, std::string("SELECT count(*) FROM jobs WHERE state = '") + state + "'"))
        << state;
  }
  EXPECT_EQ(QueryInt(db_, "SELECT count(*) FROM view_states WHERE n <= 0"), 0);
  EXPECT_EQ(QueryInt(db_, "SELECT count(*) FROM view_states WHERE state = 'leased'"), 0);
  EXPECT_EQ(QueryInt(db_,
                     "SELECT count(*) FROM (SELECT sweep_id, variant_id, task, method, turns,"
                     " complexity, iif(state = 'leased', 'pending', state), count(*) AS n"
                     " FROM jobs GROUP BY 1, 2, 3, 4, 5, 6, 7"
                     " EXCEPT SELECT * FROM view_states)"),
            0);
  // The model settings and filter lists read from view_states equal those read from the jobs.
  json kept = Json(Get(*s, "/api/filters?sweep=demo"));
  Exec(db_,
       "DROP TRIGGER view_states_add; DROP TRIGGER view_states_remove;"
       "DROP TRIGGER view_states_change; DROP TABLE view_states;");
  auto slow = Server();
  ASSERT_NE(slow, nullptr);
  EXPECT_EQ(kept, Json(Get(*slow, "/api/filters?sweep=demo")));
  EXPECT_EQ(kept["models"].size(), 2u);
  for (const auto& [query, sql] : cases) {
    if (query.find("error") != std::string::npos) continue;
    SCOPED_TRACE("without view_states: " + query);
    EXPECT_EQ(Json(Get(*slow, "/api/cells?rows=0&" + query))["matches"].get<int64_t>(),
              QueryInt(db_, sql));
  }
  EXPECT_EQ(Json(Get(*slow, "/api/sweeps"))["sweeps"][0]["total"], 366);
}

// A search for words in most replies tests the cells one by one in id order (the walk) and
// stops its count early; a prefix of the last word stands for the words it begins.
TEST_F(ViewApiTest, ACommonSearchWalksTheCellsAndItsLastWordIsAPrefix) {
  auto s = Server();
  ASSERT_NE(s, nullptr);
  json set = Json(Get(*s, "/api/cells?q=answer+is+41&search=set"));
  json walk = Json(Get(*s, "/api/cells?q=answer+is+41&search=walk"));
  EXPECT_EQ(set["matches"], 180);
  EXPECT_EQ(walk["matches"], 180);
  EXPECT_EQ(set["cells"], walk["cells"]);
  EXPECT_EQ(Json(Get(*s, "/api/cells?q=answer+is+4&rows=0"))["matches"], 180);  // "4" → "41"
  EXPECT_EQ(Json(Get(*s, "/api/cells?q=ANSWER+IS+41&rows=0"))["matches"], 180);
  EXPECT_EQ(Json(Get(*s, "/api/cells?q=answer+is+41+&rows=0"))["matches"], 180);
  EXPECT_EQ(Json(Get(*s, "/api/cells?q=answer+i+41&rows=0"))["matches"], 0);  // whole words
}

// The three Results tables from view_grain equal the report views' (from=views), numbers within
// rounding of the sums.
void ExpectSameTables(const json& a, const json& b) {
  for (const char* table : {"grain", "method_score", "method_summary"}) {
    ASSERT_EQ(a[table].size(), b[table].size()) << table;
    for (size_t i = 0; i < a[table].size(); ++i) {
      for (const auto& [key, value] : b[table][i].items()) {
        const json& mine = a[table][i][key];
        if (value.is_number_float() || mine.is_number_float()) {
          EXPECT_NEAR(mine.get<double>(), value.get<double>(), 1e-9) << table << "." << key;
        } else {
          EXPECT_EQ(mine, value) << table << "[" << i << "]." << key;
        }
      }
    }
  }
}

TEST_F(ViewApiTest, ResultsFromTheKeptSumsEqualTheReportViewsAndFollowEveryWrite) {
  // Results change after the viewer started: a result deleted, one re-judged, one added back.
  auto s = Server();
  ASSERT_NE(s, nullptr);
  json before = Json(Get(*s, "/api/results?sweep=demo"));
  ExpectSameTables(before, Json(Get(*s, "/api/results?sweep=demo&from=views")));
  int64_t n = 0;
  for (const json& g : before["grain"]) n += g["n"].get<int64_t>();
  EXPECT_EQ(n, 360);
  Exec(db_,
       "CREATE TEMP TABLE keep AS SELECT * FROM results WHERE job_id = 7;"
       "DELETE FROM results WHERE job_id IN (5, 6, 7);"
       "UPDATE results SET correct = 1 - correct, score = 1.0 - score, cost_usd = 0.5"
       " WHERE job_id IN (8, 9);"
       "INSERT INTO results SELECT * FROM keep;");
  json after = Json(Get(*s, "/api/results?sweep=demo"));
  n = 0;
  for (const json& g : after["grain"]) n += g["n"].get<int64_t>();
  EXPECT_EQ(n, 358);  // at once, not after a cache expires
  ExpectSameTables(after, Json(Get(*s, "/api/results?sweep=demo&from=views")));
  ExpectSameTables(Json(Get(*s, "/api/results")), Json(Get(*s, "/api/results?from=views")));
  // Every result of a group deleted: the group goes, as it does from the views.
  Exec(db_,
       "DELETE FROM results WHERE job_id IN (SELECT id FROM jobs WHERE task = 'number_multiply');");
  ExpectSameTables(Json(Get(*s, "/api/results?sweep=demo")),
                   Json(Get(*s, "/api/results?sweep=demo&from=views")));
}

TEST_F(ViewApiTest, ReplySearchUsesTheFullTextIndexAndTakesHostileTextAsWords) {
  Exec(db_,
       "UPDATE calls SET response_json = '{\"content\":\"<script>alert(1)</script> zyzzyva"
       " \\\"quoted\\\" NEAR(x y) OR -z\"}' WHERE job_id = 3;"
       "UPDATE results SET final_answer = 'naïve café' WHERE job_id = 4;");
  auto s = Server();
  ASSERT_NE(s, nullptr);
  for (const std::string mode : {"", "&search=set", "&search=walk"}) {
    SCOPED_TRACE(mode);
    auto matches = [&](const std::string& q) {
      json j = Json(Get(*s, "/api/cells?q=" + q + mode));
      return j["matches"].get<int64_t>();
    };
    EXPECT_EQ(matches("answer+is+41"), 179);  // every text reply but the one changed
    EXPECT_EQ(matches("zyzzyva"), 1);
    EXPECT_EQ(matches("zyzz"), 1);  // the last word is a prefix
    EXPECT_EQ(matches("%3Cscript%3Ealert"), 1);
    EXPECT_EQ(matches("%22quoted%22"), 1);
    EXPECT_EQ(matches("NEAR(x+y)+OR+-z"), 1);  // operators are words here
    EXPECT_EQ(matches("OR"), 1);
    EXPECT_EQ(matches("caf%C3%A9"), 1);   // a final answer
    EXPECT_EQ(matches("%22%22%22*"), 0);  // no word: a substring search, no syntax error
    EXPECT_EQ(matches("100%25"), 0);
    json page = Json(Get(*s, "/api/cells?q=zyzzyva&count=0" + mode));
    ASSERT_EQ(page["cells"].size(), 1u);
    EXPECT_EQ(page["cells"][0]["id"], 3);
  }
  // The index follows the writer: a reply deleted and one added while the viewer runs.
  Exec(db_,
       "DELETE FROM calls WHERE job_id = 3;"
       "UPDATE calls SET response_json = '{\"content\":\"zyzzyva again\"}' WHERE job_id = 10;");
  EXPECT_EQ(Json(Get(*s, "/api/cells?q=zyzzyva&count=0"))["cells"][0]["id"], 10);
}

// Since 0022 the store indexes replies and final answers once per commit, not per row. Rows
// another tool wrote since the store's last commit are not indexed yet: the viewer matches them
// as substrings, and the store's next commit indexes them. Deletes and changes of indexed rows
// and of rows not indexed yet keep the index equal to the text (FTS5's integrity-check).
TEST_F(ViewApiTest, ASearchFindsRowsWrittenAfterTheLastIndexBatch) {
  auto indexed = [&] {
    Exec(db_,
         "INSERT INTO reply_search (reply_search) VALUES ('integrity-check');"
         "INSERT INTO answer_search (answer_search) VALUES ('integrity-check');");
    EXPECT_EQ(QueryInt(db_, "SELECT count(*) FROM view_answer_backlog"), 0);
    EXPECT_EQ(QueryInt(db_, "SELECT reply_indexed_to FROM view_search_mark"),
              QueryInt(db_, "SELECT max(id) FROM calls"));
  };
  indexed();
  const int64_t top = QueryInt(db_, "SELECT max(id) FROM calls");
  Exec(db_,
       // The highest call (indexed) goes, and a new one takes its id.
       "DELETE FROM calls WHERE id = (SELECT max(id) FROM calls);"
       "CREATE TEMP TABLE c AS SELECT * FROM calls WHERE job_id = 5;"
       "UPDATE temp.c SET id = NULL, idx = idx + 1,"
       " response_json = '{\"content\":\"a quokka smiles\"}';"
       "INSERT INTO calls SELECT * FROM temp.c;"
       // A call not indexed yet changes, another is written and deleted.
       "UPDATE calls SET response_json = '{\"content\":\"a quokka grins\"}'"
       " WHERE id = (SELECT max(id) FROM calls);"
       "UPDATE temp.c SET idx = idx + 1, response_json = 'platypus';"
       "INSERT INTO calls SELECT * FROM temp.c;"
       "DELETE FROM calls WHERE response_json = 'platypus';"
       // An indexed answer changes; another result is deleted and written again.
       "UPDATE results SET final_answer = 'wombat' WHERE job_id = 6;"
       "CREATE TEMP TABLE r AS SELECT * FROM results WHERE job_id = 7;"
       "DELETE FROM results WHERE job_id = 7;"
       "UPDATE temp.r SET final_answer = 'numbat';"
       "INSERT INTO results SELECT * FROM temp.r;");
  ASSERT_EQ(QueryInt(db_, "SELECT max(id) FROM calls"), top);
  EXPECT_EQ(QueryInt(db_, "SELECT count(*) FROM reply_search WHERE reply_search MATCH 'quokka'"),
            0);
  EXPECT_EQ(QueryInt(db_, "SELECT count(*) FROM view_answer_backlog"), 2);
  auto s = Server();
  ASSERT_NE(s, nullptr);
  auto matches = [&](const std::string& q, const std::string& mode) {
    return Json(Get(*s, "/api/cells?rows=0&q=" + q + mode))["matches"].get<int64_t>();
  };
  auto expect = [&](const std::string& when, bool echidna) {
    for (const std::string mode : {"", "&search=set", "&search=walk"}) {
      SCOPED_TRACE(when + mode);
      EXPECT_EQ(matches("quokka", mode), 1);
      EXPECT_EQ(matches("quokka+grins", mode), 1);
      EXPECT_EQ(matches("smiles", mode), 0);
      EXPECT_EQ(matches("platypus", mode), 0);
      EXPECT_EQ(matches("wombat", mode), 1);
      EXPECT_EQ(matches("numbat", mode), 1);
      EXPECT_EQ(matches("echidna", mode), echidna ? 1 : 0);
    }
    json page = Json(Get(*s, "/api/cells?q=quokka&count=0"));
    ASSERT_EQ(page["cells"].size(), 1u);
    EXPECT_EQ(page["cells"][0]["id"], 5);
  };
  expect("not indexed yet", false);
  {
    // The store's next commit (a new sweep of one cell) indexes all of it.
    StoreOptions options;
    options.synchronous_full = false;
    auto store = Store::Open(db_, options);
    ASSERT_TRUE(store.ok()) << store.status().message();
    FixtureSpec spec;
    spec.sweep = "more";
    spec.models = {"sim:large"};
    spec.methods = {"only_question"};
    spec.tasks = {{"game24", {"2"}}};
    spec.samples = 1;
    auto filled = codesweep::testing::FillFixture(**store, spec, [](const FixtureCell&) {
      Outcome o = codesweep::testing::SimpleOutcome(false, false, 0.0, 10, 5, 7, 0.001);
      o.calls[0].response_json = R"({"content":"an echidna"})";
      return o;
    });
    ASSERT_TRUE(filled.ok()) << filled.status().message();
  }
  indexed();
  EXPECT_EQ(QueryInt(db_, "SELECT count(*) FROM reply_search WHERE reply_search MATCH 'quokka'"),
            1);
  expect("indexed", true);
}

TEST_F(ViewApiTest, ADatabaseWithoutTheViewerTablesIsReadTheSlowWay) {
  // A database no writer has migrated to 0013: no kept sums, no full-text index.
  Exec(db_,
       "DROP TABLE view_grain; DROP TABLE reply_search; DROP TABLE answer_search;"
       "DROP TRIGGER view_grain_add; DROP TRIGGER view_grain_remove;"
       "DROP TRIGGER view_grain_change; DROP TABLE view_search_mark;"
       "DROP TABLE view_answer_backlog;"
       "DROP TRIGGER reply_search_remove; DROP TRIGGER reply_search_change;"
       "DROP TRIGGER answer_search_add; DROP TRIGGER answer_search_remove;"
       "DROP TRIGGER answer_search_change; DROP TABLE view_states;"
       "DROP TRIGGER view_states_add; DROP TRIGGER view_states_remove;"
       "DROP TRIGGER view_states_change; DROP INDEX jobs_unfinished_error;"
       "CREATE INDEX jobs_unfinished_error ON jobs (sweep_id, variant_id, method, turns,"
       " last_error) WHERE state IN ('failed', 'dead');"
       "UPDATE jobs SET state = 'failed', last_error = 'boom' WHERE id IN (1, 2);");
  auto s = Server();
  ASSERT_NE(s, nullptr);
  json r = Json(Get(*s, "/api/results?sweep=demo"));
  EXPECT_EQ(r["grain"].size(), 12u);  // 2 models x 2 methods x 3 levels
  EXPECT_EQ(Json(Get(*s, "/api/cells?q=answer+is+41"))["matches"], 180);
  EXPECT_EQ(Json(Get(*s, "/api/cells?q=100%25"))["matches"], 0);  // % is literal
  EXPECT_EQ(Json(Get(*s, "/api/sweeps"))["sweeps"][0]["failed"], 2);
  EXPECT_EQ(Json(Get(*s, "/api/cells?status=failed"))["matches"], 2);
  json e = Json(Get(*s, "/api/errors"));
  ASSERT_EQ(e["groups"].size(), 2u) << e.dump();  // ids 1 and 2 have two methods
  EXPECT_EQ(e["groups"][0]["cells"], 1);
  EXPECT_EQ(e["groups"][1]["error"], "boom");
}

TEST_F(ViewApiTest, AValueOfTheWrongTypeIsAnErrorNotACrash) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(db_.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(
      sqlite3_exec(db, "UPDATE jobs SET turns = 'many' WHERE id = 5", nullptr, nullptr, nullptr),
      SQLITE_OK);
  sqlite3_close(db);
  auto s = Server();
  ASSERT_NE(s, nullptr);
  HttpResponse r = Get(*s, "/api/filters");
  EXPECT_EQ(r.status, 500);
  EXPECT_NE(r.body.find("unexpected data"), std::string::npos) << r.body;
  EXPECT_EQ(Get(*s, "/api/sweeps").status, 200);
}

}  // namespace
}  // namespace codesweep::view
