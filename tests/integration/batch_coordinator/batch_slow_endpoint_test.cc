// Batch HTTP runs off the coordinator's loop (docs/batch.md): while fakellm takes seconds to
// answer every batch request (sweep A's upload and create), a real `codesweep coordinator` still
// answers `codesweep submit` of sweep B and its worker runs B's synchronous cells to the end,
// before A's batch is even created. A SIGTERM then stops the coordinator at once although the
// upload is still in flight, and a restarted coordinator finishes A with each call key submitted
// once. An Anthropic batch's results are read from the `results_url` its batch object names.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "tests/integration/batch/batch_harness.h"

namespace codesweep::testing {
namespace {

using nlohmann::json;

constexpr int64_t kCells = 4;

std::string WriteSweep(const TempDir& dir, const std::string& name, const std::string& model,
                       const std::string& base_url, bool batch) {
  const std::string path = dir / (name + ".toml");
  std::ofstream out(path);
  out << "name = \"" << name << "\"\nseed = 7\nsamples = " << kCells << "\nmax_attempts = 2\n"
      << "methods = [\"only_question\"]\nturns = [1]\n\n"
      << "[[tasks]]\nname = \"number_multiply\"\ncomplexity = [\"2_2\"]\n\n"
      << "[models.\"" << model << "\"]\nbase_url = \"" << base_url
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

std::vector<std::string> CoordArgs(const std::string& sweep, const std::string& db) {
  return {Binary(), "coordinator",       sweep,     "--db", db,
          "--bind", "tcp://127.0.0.1:0", "--hb-ms", "200"};
}

TEST(BatchSlowEndpointTest, SlowBatchEndpointsDoNotStallDispatch) {
  TempDir dir;
  FakeLlm llm(dir, {});
  ASSERT_GT(llm.port(), 0);
  // Every batch request (upload, create, poll...) is answered 10 s late.
  llm.Post("/admin/batches/config", R"({"delay_ms": 100, "endpoint_delay_ms": 10000})");
  const std::string db = dir / "slow.db";
  const std::string a = WriteSweep(dir, "a", "openai:a", llm.base_url(), true);
  std::string endpoint;
  {
    Proc coord(CoordArgs(a, db), dir / "coord.log");
    endpoint = WaitForEndpoint(coord, 30'000);
    ASSERT_FALSE(endpoint.empty()) << coord.log();
    Proc worker(WorkerArgs(endpoint, 4), dir / "worker.log");
    // A's cells park and its batch's upload is in flight (10 s at fakellm).
    ASSERT_TRUE(WaitFor(
        [&] { return QueryInt(db, "SELECT count(*) FROM batches WHERE state = 'creating'") > 0; },
        30'000))
        << coord.log() << "\n"
        << JobStates(db);
    Proc submit({Binary(), "submit", WriteSweep(dir, "b", "openai:b", llm.base_url(), false),
                 "--connect", endpoint, "--timeout-ms", "60000"},
                dir / "submit.log");
    ASSERT_TRUE(submit.Wait(90'000)) << coord.log();
    EXPECT_EQ(submit.exit_code(), 0) << submit.log() << "\n" << coord.log();
    ASSERT_TRUE(WaitFor([&] { return Done(db, "b") == kCells; }, 60'000)) << coord.log() << "\n"
                                                                          << JobStates(db);
    // B ran to the end while A's batch was still being created at fakellm: the coordinator's
    // loop never waited for the batch endpoint.
    EXPECT_EQ(QueryInt(db, "SELECT count(*) FROM batches WHERE provider_id <> ''"), 0)
        << coord.log();
    EXPECT_GT(QueryInt(db, "SELECT count(*) FROM batches WHERE state = 'creating'"), 0);
    EXPECT_EQ(Done(db, "a"), 0);
    // A SIGTERM does not wait for the upload in flight.
    worker.Kill(SIGKILL);
    coord.Signal(SIGTERM);
    EXPECT_TRUE(coord.Wait(60'000)) << "the coordinator did not stop\n" << coord.log();
    EXPECT_EQ(QueryInt(db, "SELECT count(*) FROM batches WHERE provider_id <> ''"), 0)
        << coord.log();
  }
  // A restarted coordinator takes the batch left 'creating' over and finishes A.
  llm.Post("/admin/batches/config", R"({"endpoint_delay_ms": 0})");
  Proc coord(CoordArgs(a, db), dir / "coord2.log");
  endpoint = WaitForEndpoint(coord, 30'000);
  ASSERT_FALSE(endpoint.empty()) << coord.log();
  Proc worker(WorkerArgs(endpoint, 4), dir / "worker2.log");
  ASSERT_TRUE(WaitFor([&] { return Done(db, "a") == kCells; }, 60'000)) << coord.log() << "\n"
                                                                        << JobStates(db);
  json b = BatchStats(llm);
  EXPECT_EQ(b.value("custom_ids_submitted_twice", -1), 0) << b.dump();
  EXPECT_EQ(b.value("distinct_custom_ids", -1), kCells) << b.dump();
  worker.Kill(SIGKILL);
  coord.Kill(SIGKILL);
}

// fakellm serves an ended Anthropic batch's results only at the batch's results_url (another
// path than the documented one): the run reads them there and ends.
TEST(BatchSlowEndpointTest, AnthropicResultsAreReadFromResultsUrl) {
  TempDir dir;
  FakeLlm llm(dir, {});
  ASSERT_GT(llm.port(), 0);
  llm.Post("/admin/batches/config", R"({"delay_ms": 100, "results_elsewhere": 1})");
  const std::string db = dir / "url.db";
  Proc run(
      {Binary(), "run",
       WriteSweep(dir, "u", "anthropic:u", "http://127.0.0.1:" + std::to_string(llm.port()), true),
       "--db", db, "--workers", "1", "-q"},
      dir / "run.log");
  ASSERT_TRUE(run.Wait(60'000)) << run.log() << "\n" << JobStates(db);
  EXPECT_EQ(run.exit_code(), 0) << run.log();
  ExpectExactlyOnce(db, kCells);
  EXPECT_EQ(QueryInt(db, "SELECT count(*) FROM batch_requests WHERE state <> 'done'"), 0);
  EXPECT_EQ(BatchStats(llm).value("custom_ids_submitted_twice", -1), 0);
}

}  // namespace
}  // namespace codesweep::testing
