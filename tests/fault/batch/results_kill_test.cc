// kill -9 of the coordinator (`codesweep run`) while a batch's results are being read: fakellm
// streams the output file (OpenAI) or the results JSONL (Anthropic) in pieces over seconds, the
// test kills the run once fakellm is in the middle of sending them, and restarts it. The batch
// is still live in SQLite (its results are written in one transaction, after the whole read), so
// the restarted run reads them again: nothing is submitted twice, nothing is lost, every cell
// ends once. Real processes, real HTTP, real SQLite.
#include <gtest/gtest.h>

#include <csignal>
#include <nlohmann/json.hpp>
#include <string>

#include "tests/integration/batch/batch_harness.h"

namespace codesweep::testing {
namespace {

using nlohmann::json;

// 2 samples x (only_question, all_code and code_interpreter at 1 and 2 turns). A queue is
// flushed only when nothing else can run (batch_flush_s 60), so each round is one batch.
constexpr int64_t kCells = 2 * 5;

std::string WriteSweep(const TempDir& dir, const std::string& model, const std::string& base_url) {
  const std::string path = dir / "kill.toml";
  std::ofstream out(path);
  out << "name = \"kill\"\nseed = 7\nsamples = 2\nmax_attempts = 2\n"
      << "methods = [\"only_question\", \"all_code\", \"code_interpreter\"]\nturns = [1, 2]\n\n"
      << "[[tasks]]\nname = \"number_multiply\"\ncomplexity = [\"2_2\"]\n\n"
      << "[models.\"" << model << "\"]\nbase_url = \"" << base_url << "\"\napi_key_env = \"\"\n"
      << "max_tokens = 256\nretry = { max_attempts = 1 }\n"
      << "batch = true\nbatch_flush_s = 60\nbatch_poll_s = 0.05\n";
  return path;
}

void KillWhileResultsAreRead(const std::string& model, const std::string& base_url_suffix) {
  TempDir dir;
  FakeLlm llm(dir, {"--replay", WriteBatchReplay(dir)});
  ASSERT_GT(llm.port(), 0);
  // Batches end at once; their results take 4 s to arrive, in 20 pieces.
  llm.Post("/admin/batches/config", R"({"delay_ms": 50, "download_ms": 4000})");
  const std::string sweep =
      WriteSweep(dir, model, "http://127.0.0.1:" + std::to_string(llm.port()) + base_url_suffix);
  const std::string db = dir / "kill.db";
  {
    Proc run({Binary(), "run", sweep, "--db", db, "--workers", "2", "-q"}, dir / "first.log");
    ASSERT_TRUE(
        WaitFor([&] { return BatchStats(llm).value("downloads_in_flight", 0) > 0; }, 60'000))
        << run.log() << "\n"
        << BatchStats(llm).dump();
    run.Kill(SIGKILL);
  }
  // The read was cut: nothing of it was written, the batch is live, its cells still park.
  EXPECT_EQ(QueryInt(db, "SELECT count(*) FROM batch_requests WHERE state = 'done'"), 0);
  EXPECT_EQ(QueryInt(db,
                     "SELECT count(*) FROM batches WHERE state IN ('submitted', 'in_progress')"
                     " AND provider_id <> ''"),
            1);
  EXPECT_GT(QueryInt(db, "SELECT count(*) FROM jobs WHERE state = 'parked'"), 0) << JobStates(db);
  const int64_t downloads_before = BatchStats(llm).value("downloads", 0);

  llm.Post("/admin/batches/config", R"({"download_ms": 0})");
  Proc again({Binary(), "run", sweep, "--db", db, "--workers", "2", "-q"}, dir / "second.log");
  ASSERT_TRUE(again.Wait(120'000)) << again.log() << "\n" << JobStates(db);
  EXPECT_EQ(again.exit_code(), 0) << again.log();
  ExpectExactlyOnce(db, kCells);
  // The first batch's results were read again after the restart, and no request went out twice.
  EXPECT_GT(BatchStats(llm).value("downloads", 0), downloads_before);
  json b = BatchStats(llm);
  const int64_t keys = QueryInt(db, "SELECT count(*) FROM batch_requests");
  EXPECT_EQ(b.value("custom_ids_submitted_twice", -1), 0) << b.dump();
  EXPECT_EQ(b.value("distinct_custom_ids", -1), keys) << b.dump();
  EXPECT_EQ(b.value("lines_received", -1), keys) << b.dump();
  EXPECT_EQ(QueryInt(db, "SELECT count(*) FROM batch_requests WHERE state <> 'done' OR tries <> 1"),
            0);
  EXPECT_EQ(keys, QueryInt(db, "SELECT count(DISTINCT call_key) FROM calls"));
  EXPECT_EQ(llm.Stat("requests"), 0);  // nothing went out synchronously
}

TEST(BatchResultsKillTest, OpenAiOutputFileReadCutByKillNineIsReadAgain) {
  KillWhileResultsAreRead("openai:fake", "/v1");
}

TEST(BatchResultsKillTest, AnthropicResultsStreamCutByKillNineIsReadAgain) {
  KillWhileResultsAreRead("anthropic:fake", "");
}

}  // namespace
}  // namespace codesweep::testing
