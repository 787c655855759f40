// Batch mode on the paper-sim grid (examples/paper-sim.toml's 14 tasks x 10 built-in methods x
// turns 1 and 2, one sample) for an `openai:` and an `anthropic:` model, both served by one real
// fakellm process: fakellm's OpenAI Files + Batches API for the first, its Anthropic Message
// Batches API for the second. The batch run equals the synchronous run of the same grid against
// the same scripted answers, cell by cell, every cell ends once, and fakellm's counters show each
// call key submitted once, in a few HTTP requests per batch.
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "tests/integration/batch/batch_harness.h"

namespace codesweep::testing {
namespace {

using nlohmann::json;

// 14 tasks x 2 models x (6 multi-turn methods x 2 turn counts + 4 single-turn methods).
constexpr int64_t kPaperCells = 14 * 2 * (6 * 2 + 4);

// examples/paper-sim.toml with its two sim models replaced by `openai:fake` and
// `anthropic:fake` on fakellm (`host` is http://127.0.0.1:PORT).
std::string WritePaperSweep(const TempDir& dir, bool batch, const std::string& host) {
  std::ifstream in(std::string(CODESWEEP_SOURCE_DIR) + "/examples/paper-sim.toml");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  text = text.substr(0, text.find("[models."));
  const std::string path = dir / (batch ? "paper-batch.toml" : "paper-sync.toml");
  std::ofstream out(path);
  out << text;
  for (const auto& [id, base] : {std::pair<std::string, std::string>{"openai:fake", host + "/v1"},
                                 {"anthropic:fake", host}}) {
    out << "[models.\"" << id << "\"]\nbase_url = \"" << base << "\"\napi_key_env = \"\"\n"
        << "max_tokens = 256\nretry = { max_attempts = 1 }\n"
        << "price = { input = 1000.0, output = 1000.0 }\n";
    if (batch) out << "batch = true\nbatch_flush_s = 0.2\nbatch_poll_s = 0.05\n";
    out << "\n";
  }
  return path;
}

int RunGrid(const TempDir& dir, const std::string& sweep, const std::string& db,
            const std::string& log) {
  Proc p({Binary(), "run", sweep, "--db", db, "--workers", "2", "-q"}, dir / log);
  const bool ended = p.Wait(300'000);
  EXPECT_TRUE(ended) << p.log() << "\n" << JobStates(db);
  EXPECT_EQ(p.exit_code(), 0) << p.log() << "\n" << JobStates(db);
  return ended ? p.exit_code() : -1;
}

TEST(BatchPaperGridTest, EveryMethodOnBothProvidersEqualsTheSynchronousRun) {
  TempDir dir;
  FakeLlm llm(dir, {"--replay", WriteBatchReplay(dir)});
  ASSERT_GT(llm.port(), 0);
  llm.Post("/admin/batches/config", R"({"delay_ms": 100})");
  const std::string host = "http://127.0.0.1:" + std::to_string(llm.port());

  const std::string sync_db = dir / "sync.db";
  const std::string batch_db = dir / "batch.db";
  ASSERT_EQ(RunGrid(dir, WritePaperSweep(dir, false, host), sync_db, "sync.log"), 0);
  const int64_t sync_requests = llm.Stat("requests");
  ASSERT_GT(sync_requests, 0);
  ASSERT_EQ(RunGrid(dir, WritePaperSweep(dir, true, host), batch_db, "batch.log"), 0);

  ExpectExactlyOnce(sync_db, kPaperCells);
  ExpectExactlyOnce(batch_db, kPaperCells);
  EXPECT_EQ(llm.Stat("requests"), sync_requests);  // batch mode sent nothing synchronously
  // Every method, multi-turn, tool and Code+Text+Sum included, ran on both providers.
  EXPECT_EQ(QueryInt(batch_db, "SELECT count(DISTINCT method) FROM jobs"), 10);
  EXPECT_EQ(QueryInt(batch_db, "SELECT count(DISTINCT provider) FROM batches"), 2);
  // The same verdicts, answers, turns, executions and calls, cell by cell.
  std::map<std::string, std::string> sync = Verdicts(sync_db);
  EXPECT_EQ(static_cast<int64_t>(sync.size()), kPaperCells);
  EXPECT_EQ(Verdicts(batch_db), sync);
  EXPECT_GT(QueryInt(batch_db, "SELECT count(*) FROM executions"), 0);
  EXPECT_GT(QueryInt(batch_db, "SELECT max(turns_used) FROM results"), 1);
  EXPECT_GT(QueryInt(batch_db, "SELECT max(n_calls) FROM results"), 1);
  // Each distinct call key reached fakellm once, in batches of many requests.
  json b = BatchStats(llm);
  const int64_t keys = QueryInt(batch_db, "SELECT count(DISTINCT call_key) FROM calls");
  const int64_t batches = QueryInt(batch_db, "SELECT count(*) FROM batches");
  EXPECT_GT(keys, 0);
  EXPECT_EQ(b.value("custom_ids_submitted_twice", -1), 0) << b.dump();
  EXPECT_EQ(b.value("distinct_custom_ids", -1), keys) << b.dump();
  EXPECT_EQ(b.value("lines_received", -1), keys) << b.dump();
  EXPECT_EQ(b.value("batches", -1), batches) << b.dump();
  EXPECT_EQ(QueryInt(batch_db, "SELECT count(*) FROM batch_requests WHERE state <> 'done'"), 0);
  EXPECT_GT(keys, 2 * batches);  // batches hold many requests
  // The provider was paid for each distinct call once, at batch prices: half of what the
  // synchronous run paid for the same calls.
  const double sync_cost = QueryDouble(sync_db,
                                       "SELECT total(c) FROM (SELECT max(cost_usd) AS c FROM calls"
                                       " WHERE cached = 0 GROUP BY call_key)");
  const double batch_cost = QueryDouble(batch_db, "SELECT total(cost_usd) FROM batches");
  EXPECT_GT(sync_cost, 0);
  EXPECT_NEAR(batch_cost, sync_cost / 2, sync_cost * 1e-6);
}

}  // namespace
}  // namespace codesweep::testing
