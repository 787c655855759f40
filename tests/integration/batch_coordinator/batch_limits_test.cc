// Batch mode's queue limit (docs/batch.md): a model with `batch_max_enqueued_tokens` never has
// more tokens in live batches than that, so fakellm, which enforces the same limit on its OpenAI
// Batch API, refuses no batch: the queue is sent in several smaller batches, one after another.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "tests/integration/ratelimit/fakellm_harness.h"

namespace codesweep::testing {
namespace {

using nlohmann::json;

constexpr int64_t kCells = 8;  // 8 samples x only_question, 1 turn: one call per cell
// Each request line is a few hundred bytes (about 100-200 tokens by fakellm's estimate of a
// token per 4 bytes): the limit holds a few of them, not all 8.
constexpr int64_t kEnqueuedTokens = 600;

std::string WriteSweep(const TempDir& dir, const std::string& base_url, bool limit) {
  const std::string path = dir / "lim.toml";
  std::ofstream out(path);
  out << "name = \"lim\"\nseed = 7\nsamples = " << kCells
      << "\nmax_attempts = 2\nmethods = [\"only_question\"]\nturns = [1]\n\n"
      << "[[tasks]]\nname = \"number_multiply\"\ncomplexity = [\"2_2\"]\n\n"
      << "[models.\"openai:fake\"]\nbase_url = \"" << base_url
      << "\"\napi_key_env = \"\"\nmax_tokens = 16\nretry = { max_attempts = 1 }\n"
      << "batch = true\nbatch_flush_s = 0.2\nbatch_poll_s = 0.1\n";
  if (limit) out << "batch_max_enqueued_tokens = " << kEnqueuedTokens << "\n";
  return path;
}

TEST(BatchLimitsTest, EnqueuedTokenLimitIsKeptBeforeUploadNotRefused) {
  TempDir dir;
  FakeLlm llm(dir, {});
  ASSERT_GT(llm.port(), 0);
  llm.Post("/admin/batches/config",
           json({{"delay_ms", 300}, {"max_enqueued_tokens", kEnqueuedTokens}}).dump());
  const std::string db = dir / "lim.db";
  Proc run(
      {Binary(), "run", WriteSweep(dir, llm.base_url(), true), "--db", db, "--workers", "2", "-q"},
      dir / "run.log");
  ASSERT_TRUE(run.Wait(120'000)) << run.log() << "\n" << JobStates(db);
  EXPECT_EQ(run.exit_code(), 0) << run.log();
  ExpectExactlyOnce(db, kCells);
  // No batch was refused for the queue limit; the requests went out in several batches, none
  // over the limit.
  EXPECT_EQ(QueryInt(db, "SELECT count(*) FROM batches WHERE state = 'refused'"), 0) << run.log();
  EXPECT_GT(QueryInt(db, "SELECT count(*) FROM batches"), 1);
  EXPECT_LE(QueryInt(db, "SELECT max(est_tokens) FROM batches"), kEnqueuedTokens);
  json b = llm.Stats()["batch"];
  EXPECT_EQ(b.value("custom_ids_submitted_twice", -1), 0) << b.dump();
  EXPECT_EQ(b.value("distinct_custom_ids", -1), kCells) << b.dump();
}

}  // namespace
}  // namespace codesweep::testing
