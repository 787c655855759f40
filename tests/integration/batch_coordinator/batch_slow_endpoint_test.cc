// A slow batch endpoint does not stall the coordinator (docs/batch.md): while fakellm takes 10 s
// to answer each batch request (the upload and the create of sweep A's batch), a real
// `codesweep coordinator` still answers `codesweep submit` of sweep B at once and its workers run
// B's synchronous cells to the end, before A's batch has even been created.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "tests/integration/ratelimit/fakellm_harness.h"

namespace codesweep::testing {
namespace {

using nlohmann::json;

std::string WriteSweep(const TempDir& dir, const std::string& name, const std::string& base_url,
                       bool batch) {
  const std::string path = dir / (name + ".toml");
  std::ofstream out(path);
  out << "name = \"" << name << "\"\nseed = 7\nsamples = 4\nmax_attempts = 2\n"
      << "methods = [\"only_question\"]\nturns = [1]\n\n"
      << "[[tasks]]\nname = \"number_multiply\"\ncomplexity = [\"2_2\"]\n\n"
      << "[models.\"openai:" << name << "\"]\nbase_url = \"" << base_url
      << "\"\napi_key_env = \"\"\nmax_tokens = 16\nretry = { max_attempts = 1 }\n";
  if (batch) out << "batch = true\nbatch_flush_s = 0.1\nbatch_poll_s = 0.1\n";
  return path;
}

int64_t Done(const std::string& db, const std::string& sweep) {
  return QueryInt(db,
                  "SELECT count(*) FROM jobs j JOIN sweeps s ON s.id = j.sweep_id WHERE"
                  " s.name = '" +
                      sweep + "' AND j.state = 'done'");
}

TEST(BatchSlowEndpointTest, SlowBatchEndpointsDoNotStallDispatch) {
  TempDir dir;
  FakeLlm llm(dir, {});
  ASSERT_GT(llm.port(), 0);
  llm.Post("/admin/batches/config", R"({"delay_ms": 100, "endpoint_delay_ms": 10000})");
  const std::string db = dir / "slow.db";
  Proc coord({Binary(), "coordinator", WriteSweep(dir, "a", llm.base_url(), true), "--db", db,
              "--bind", "tcp://127.0.0.1:0", "--hb-ms", "200"},
             dir / "coord.log");
  const std::string endpoint = WaitForEndpoint(coord, 30'000);
  ASSERT_FALSE(endpoint.empty()) << coord.log();
  Proc worker(WorkerArgs(endpoint, 4), dir / "worker.log");
  // A's cells park and its batch upload is in flight (10 s per request at fakellm).
  ASSERT_TRUE(WaitFor(
      [&] { return QueryInt(db, "SELECT count(*) FROM batches WHERE state = 'creating'") > 0; },
      30'000))
      << coord.log() << "\n"
      << JobStates(db);
  Proc submit(
      {Binary(), "submit", WriteSweep(dir, "b", llm.base_url(), false), "--connect", endpoint},
      dir / "submit.log");
  ASSERT_TRUE(submit.Wait(60'000));
  EXPECT_EQ(submit.exit_code(), 0) << submit.log();
  ASSERT_TRUE(WaitFor([&] { return Done(db, "b") == 4; }, 60'000)) << JobStates(db);
  // B ran to the end while A's batch was still being created at fakellm: the coordinator's loop
  // never waited for the batch endpoint.
  EXPECT_EQ(QueryInt(db, "SELECT count(*) FROM batches WHERE provider_id <> ''"), 0) << coord.log();
  EXPECT_GT(QueryInt(db, "SELECT count(*) FROM batches WHERE state = 'creating'"), 0);
  EXPECT_EQ(Done(db, "a"), 0);
  worker.Kill(SIGKILL);
  coord.Kill(SIGKILL);
}

}  // namespace
}  // namespace codesweep::testing
