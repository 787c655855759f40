// Batch mode as the user sees it from the command line (docs/batch.md): `status` while the cells
// of a real `codesweep run` wait in fakellm's OpenAI Batch API (parked cells counted apart, not as
// done; each open batch with its provider id, model, age, counts and state), `codesweep batches`
// listing, and `codesweep batches cancel` of a live batch: cancelled at the provider, the waiting
// cells end failed (the run does not claim success), and `codesweep retry` runs them to the end.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>

#include "tests/integration/ratelimit/fakellm_harness.h"

namespace codesweep::testing {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

constexpr int64_t kCells = 6;  // 6 samples x only_question, 1 turn: one call per cell

std::string WriteReplay(const TempDir& dir) {
  const std::string path = dir / "replay.json";
  json done = {{"content", "<<<42>>>"}, {"finish_reason", "stop"}};
  std::ofstream(path) << json({{"default", done}}).dump();
  return path;
}

std::string WriteBatchSweep(const TempDir& dir, const std::string& base_url) {
  const std::string path = dir / "bc.toml";
  std::ofstream(path) << "name = \"bc\"\nseed = 7\nsamples = " << kCells
                      << "\nmax_attempts = 2\nmethods = [\"only_question\"]\nturns = [1]\n\n"
                      << "[[tasks]]\nname = \"number_multiply\"\ncomplexity = [\"2_2\"]\n\n"
                      << "[models.\"openai:fake\"]\nbase_url = \"" << base_url
                      << "\"\napi_key_env = \"\"\nmax_tokens = 64\nretry = { max_attempts = 1 }\n"
                      << "price = { input = 1000.0, output = 1000.0 }\n"
                      << "batch = true\nbatch_flush_s = 0.2\nbatch_poll_s = 0.1\n";
  return path;
}

// Runs `args` (through sh) to the end; returns the exit code and what it printed.
std::pair<int, std::string> Cli(const TempDir& dir, const std::string& args,
                                const std::string& log_name) {
  Proc p({"/bin/sh", "-c", "exec " + args}, dir / (log_name + ".log"));
  if (!p.Wait(120'000)) return {-100, p.log()};
  return {p.exit_code(), p.log()};
}

double QueryDouble(const std::string& db, const std::string& sql) {
  QueryTable t = Query(db, sql);
  if (t.rows.empty() || t.rows[0].empty() || !t.rows[0][0]) return -1;
  return std::atof(t.rows[0][0]->c_str());
}

json SweepStatus(const TempDir& dir, const std::string& db, const std::string& log_name) {
  auto [rc, out] = Cli(dir, Binary() + " status --db " + db + " --json 2>/dev/null", log_name);
  EXPECT_EQ(rc, 0) << out;
  json doc = json::parse(out, nullptr, false);
  if (doc.is_discarded() || !doc.contains("sweeps") || doc["sweeps"].empty()) {
    ADD_FAILURE() << "status --json: " << out;
    return json::object();
  }
  return doc["sweeps"][0];
}

// Every cell of a running sweep waits in a live batch: status counts them as parked (not done,
// not pending), the sweep is not "done", and the batch is listed; then the user cancels it.
TEST(BatchCliTest, StatusShowsParkedCellsAndBatchesAndCancelFailsThemRetryably) {
  TempDir dir;
  FakeLlm llm(dir, {"--replay", WriteReplay(dir)});
  ASSERT_GT(llm.port(), 0);
  llm.Post("/admin/batches/config", R"({"delay_ms": 600000})");  // nothing ends by itself
  const std::string sweep = WriteBatchSweep(dir, llm.base_url());
  const std::string db = dir / "bc.db";
  Proc run({Binary(), "run", sweep, "--db", db, "--workers", "2", "-q"}, dir / "run.log");
  ASSERT_TRUE(WaitFor(
      [&] {
        return QueryInt(db, "SELECT count(*) FROM jobs WHERE state = 'parked'") == kCells &&
               QueryInt(db,
                        "SELECT count(*) FROM batch_requests WHERE state = 'sent' AND batch_id IN"
                        " (SELECT id FROM batches WHERE provider_id <> '' AND state ="
                        " 'in_progress')") == kCells;
      },
      60'000))
      << run.log() << "\n"
      << JobStates(db);

  // status: parked apart, nothing done, the sweep not finished, each open batch shown.
  json s = SweepStatus(dir, db, "status_json");
  EXPECT_EQ(s.value("total", -1), kCells) << s.dump();
  EXPECT_EQ(s.value("parked", -1), kCells) << s.dump();
  EXPECT_EQ(s.value("done", -1), 0) << s.dump();
  EXPECT_EQ(s.value("pending", -1), 0) << s.dump();
  EXPECT_EQ(s.value("remaining", -1), kCells) << s.dump();
  EXPECT_NE(s.value("eta", ""), "done") << s.dump();
  EXPECT_NE(s.value("eta", ""), "stopped") << s.dump();  // the run polls the batches
  ASSERT_TRUE(s.contains("batches")) << s.dump();
  int64_t in_batches = 0;
  for (const json& b : s["batches"]) {
    EXPECT_EQ(b.value("state", ""), "in_progress") << b.dump();
    EXPECT_EQ(b.value("model", ""), "fake") << b.dump();
    EXPECT_THAT(b.value("provider_id", ""), HasSubstr("batch")) << b.dump();
    in_batches += b.value("requests", 0);
  }
  EXPECT_EQ(in_batches, kCells) << s.dump();
  const std::string provider_id = s["batches"][0].value("provider_id", "");
  auto [rc, text] = Cli(dir, Binary() + " status --db " + db, "status_text");
  EXPECT_EQ(rc, 0) << text;
  EXPECT_THAT(text, HasSubstr("parked"));
  EXPECT_THAT(text, HasSubstr(provider_id));
  EXPECT_THAT(text, HasSubstr("in_progress"));
  EXPECT_THAT(text, HasSubstr("6 of them parked"));

  std::tie(rc, text) = Cli(dir, Binary() + " batches " + sweep + " --db " + db, "list");
  EXPECT_EQ(rc, 0) << text;
  EXPECT_THAT(text, HasSubstr(provider_id));

  // The user cancels: fakellm cancels the batch; the run sees it end, fails the waiting cells
  // (nothing is sent again) and exits with "some cells failed", not success.
  std::tie(rc, text) = Cli(dir, Binary() + " batches cancel bc --db " + db, "cancel");
  EXPECT_EQ(rc, 0) << text;
  EXPECT_THAT(text, HasSubstr("cancelled"));
  EXPECT_GT(QueryInt(db, "SELECT count(*) FROM batches WHERE cancel_requested_ms > 0"), 0);
  ASSERT_TRUE(run.Wait(60'000)) << run.log() << "\n" << JobStates(db);
  EXPECT_EQ(run.exit_code(), 3) << run.log();
  EXPECT_EQ(QueryInt(db,
                     "SELECT count(*) FROM jobs WHERE state = 'failed' AND last_error LIKE"
                     " '%cancelled by `codesweep batches cancel`%'"),
            kCells)
      << JobStates(db);
  EXPECT_EQ(QueryInt(db, "SELECT count(*) FROM batches WHERE state = 'cancelled'"),
            QueryInt(db, "SELECT count(*) FROM batches WHERE provider_id <> ''"));
  EXPECT_EQ(QueryInt(db, "SELECT count(*) FROM batch_requests"), 0);  // none to send again
  json b = llm.Stats()["batch"];
  EXPECT_EQ(b.value("custom_ids_submitted_twice", -1), 0) << b.dump();

  // status after the cancel: no parked cell, the batch shown as cancelled.
  s = SweepStatus(dir, db, "status_after");
  EXPECT_EQ(s.value("parked", -1), 0) << s.dump();
  EXPECT_EQ(s.value("failed", -1), kCells) << s.dump();
  ASSERT_FALSE(s["batches"].empty()) << s.dump();
  EXPECT_EQ(s["batches"][0].value("state", ""), "cancelled") << s.dump();

  // `codesweep retry` runs the cancelled cells again, in new batches, to the end.
  llm.Post("/admin/batches/config", R"({"delay_ms": 100})");
  std::tie(rc, text) = Cli(dir, Binary() + " retry " + sweep + " --db " + db + " -q", "retry");
  EXPECT_EQ(rc, 0) << text << "\n" << JobStates(db);
  ExpectExactlyOnce(db, kCells);

  // report: the batch costs apart, at batch prices next to synchronous ones (half, with no
  // batch price given), in the text, JSON and HTML reports.
  std::tie(rc, text) = Cli(dir, Binary() + " report " + sweep + " --db " + db, "report_md");
  EXPECT_EQ(rc, 0) << text;
  EXPECT_THAT(text, HasSubstr("Batch mode: cost at batch prices and synchronously"));
  std::tie(rc, text) =
      Cli(dir, Binary() + " report " + sweep + " --db " + db + " --format json 2>/dev/null",
          "report_json");
  EXPECT_EQ(rc, 0) << text;
  json report = json::parse(text, nullptr, false);
  ASSERT_FALSE(report.is_discarded()) << text;
  ASSERT_EQ(report[0]["batch_cost"].size(), 1u) << text;
  const json& cost = report[0]["batch_cost"][0];
  EXPECT_EQ(cost.value("answered", -1), kCells) << cost.dump();
  EXPECT_GT(cost.value("cost_usd", 0.0), 0.0) << cost.dump();
  EXPECT_NEAR(cost.value("sync_cost_usd", 0.0), 2 * cost.value("cost_usd", 0.0), 1e-9)
      << cost.dump();
  EXPECT_NEAR(cost.value("saved_usd", 0.0), cost.value("cost_usd", 0.0), 1e-9) << cost.dump();
  // What the calls of the finished cells cost is the batch price, not the synchronous one.
  EXPECT_NEAR(QueryDouble(db, "SELECT sum(cost_usd) FROM calls WHERE cost_usd > 0"),
              cost.value("cost_usd", 0.0), 1e-9);
  const std::string html = dir / "report.html";
  std::tie(rc, text) =
      Cli(dir, Binary() + " report " + sweep + " --db " + db + " --html " + html, "report_html");
  EXPECT_EQ(rc, 0) << text;
  EXPECT_THAT(ReadFile(html), HasSubstr("Batch mode: cost at batch prices and synchronously"));
}

}  // namespace
}  // namespace codesweep::testing
