// Batch mode end to end (docs/batch.md): real `codesweep run` processes, a real fakellm process
// answering the OpenAI Files + Batches API over loopback, real SQLite files. A grid with a
// single-turn, a multi-turn code, a tool and the Code+Text+Sum method runs in batch mode and
// synchronously against the same scripted answers: the verdicts are equal and fakellm saw every
// call key once. kill -9 of the run while a batch is live, then a restart: nothing is submitted
// twice and nothing is lost.
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/integration/batch/batch_harness.h"

namespace codesweep::testing {
namespace {

using nlohmann::json;

struct BatchSweep {
  std::string name = "bt";
  bool batch = true;
  std::string file = "bt.toml";
};

// 2 samples x (only_question, all_code and code_interpreter at 1 and 3 turns, code_text_sum).
constexpr int64_t kCells = 2 * 6;

std::string WriteSweep(const TempDir& dir, const BatchSweep& s, const std::string& base_url) {
  const std::string path = dir / s.file;
  std::ofstream out(path);
  out << "name = \"" << s.name << "\"\nseed = 7\nsamples = 2\nmax_attempts = 2\n"
      << "methods = [\"only_question\", \"all_code\", \"code_interpreter\", \"code_text_sum\"]\n"
      << "turns = [1, 3]\n\n[[tasks]]\nname = \"number_multiply\"\ncomplexity = [\"2_2\"]\n\n"
      << "[models.\"openai:fake\"]\nbase_url = \"" << base_url << "\"\napi_key_env = \"\"\n"
      << "max_tokens = 256\nretry = { max_attempts = 1 }\n"
      << "price = { input = 1000.0, output = 1000.0 }\n";
  if (s.batch) out << "batch = true\nbatch_flush_s = 0.2\nbatch_poll_s = 0.1\n";
  return path;
}

std::vector<std::string> RunArgs(const std::string& sweep, const std::string& db) {
  return {Binary(), "run", sweep, "--db", db, "--workers", "2", "-q"};
}

int RunToEnd(const TempDir& dir, const std::string& sweep, const std::string& db,
             const std::string& log) {
  Proc p(RunArgs(sweep, db), dir / log);
  const bool ended = p.Wait(120'000);
  EXPECT_TRUE(ended) << p.log() << "\n" << JobStates(db);
  EXPECT_EQ(p.exit_code(), 0) << p.log() << "\n" << JobStates(db);
  return ended ? p.exit_code() : -1;
}

TEST(BatchModeTest, GridEqualsSynchronousRunAndEachCallKeyIsSubmittedOnce) {
  TempDir dir;
  FakeLlm llm(dir, {"--replay", WriteBatchReplay(dir)});
  ASSERT_GT(llm.port(), 0);
  llm.Post("/admin/batches/config", R"({"delay_ms": 200})");

  const std::string sync_db = dir / "sync.db";
  const std::string batch_db = dir / "batch.db";
  ASSERT_EQ(RunToEnd(dir, WriteSweep(dir, {"bt", false, "sync.toml"}, llm.base_url()), sync_db,
                     "sync.log"),
            0);
  const int64_t sync_requests = llm.Stat("requests");
  ASSERT_GT(sync_requests, 0);
  ASSERT_EQ(RunToEnd(dir, WriteSweep(dir, {"bt", true, "batch.toml"}, llm.base_url()), batch_db,
                     "batch.log"),
            0);

  ExpectExactlyOnce(sync_db, kCells);
  ExpectExactlyOnce(batch_db, kCells);
  // Batch mode sent no synchronous request.
  EXPECT_EQ(llm.Stat("requests"), sync_requests);
  // The same verdicts, answers, turns, executions and calls, cell by cell.
  std::map<std::string, std::string> sync = Verdicts(sync_db);
  EXPECT_EQ(static_cast<int64_t>(sync.size()), kCells);
  EXPECT_EQ(Verdicts(batch_db), sync);
  // The runs executed code (so the replayed executions mattered) and took several turns.
  EXPECT_GT(QueryInt(batch_db, "SELECT count(*) FROM executions"), 0);
  EXPECT_GT(QueryInt(batch_db, "SELECT max(turns_used) FROM results"), 1);
  // Every distinct call key went to fakellm once, in batches.
  json b = BatchStats(llm);
  const int64_t keys = QueryInt(batch_db, "SELECT count(DISTINCT call_key) FROM calls");
  EXPECT_GT(keys, 0);
  EXPECT_EQ(b.value("custom_ids_submitted_twice", -1), 0) << b.dump();
  EXPECT_EQ(b.value("distinct_custom_ids", -1), keys) << b.dump();
  EXPECT_EQ(b.value("lines_received", -1), keys) << b.dump();
  EXPECT_EQ(QueryInt(batch_db, "SELECT count(*) FROM batch_requests WHERE state <> 'done'"), 0);
  EXPECT_GT(QueryInt(batch_db, "SELECT count(*) FROM batches"), 1);  // several rounds
}

// SIGTERM stops a run whose every batch upload is refused (nothing listens at the base URL): the
// run was seen retrying uploads and hanging in shutdown. It exits as interrupted; no cell ended
// and every request waits in the queue for the next run. The upload is tried again every
// batch_poll_s: the tries are counted in one `refused` row, not one row each.
TEST(BatchModeTest, SigtermStopsARunWhoseUploadsAreAllRefused) {
  TempDir dir;
  const std::string db = dir / "refused.db";
  // Port 1: connections are refused at once.
  Proc run(RunArgs(WriteSweep(dir, {}, "http://127.0.0.1:1/v1"), db), dir / "refused.log");
  ASSERT_TRUE(WaitFor(
      [&] { return QueryInt(db, "SELECT sum(refusals) FROM batches WHERE state = 'refused'") > 5; },
      60'000))
      << run.log();
  EXPECT_EQ(QueryInt(db, "SELECT count(*) FROM batches"), 1) << run.log();
  run.Signal(SIGTERM);
  ASSERT_TRUE(run.Wait(60'000)) << "codesweep run did not stop on SIGTERM\n" << run.log();
  EXPECT_EQ(run.exit_code(), 130) << run.log();
  EXPECT_EQ(QueryInt(db, "SELECT count(*) FROM jobs WHERE state IN ('done', 'failed', 'dead')"), 0)
      << JobStates(db);
  EXPECT_EQ(QueryInt(db, "SELECT count(*) FROM batch_requests WHERE state <> 'queued'"), 0);
  EXPECT_GT(QueryInt(db, "SELECT count(*) FROM batch_requests"), 0);
}

// kill -9 of `codesweep run` once a batch is live at the provider; the restarted run polls it
// and finishes every cell; no request line reaches fakellm twice.
TEST(BatchModeTest, KillNineWhileABatchIsLiveThenRestartLosesNothing) {
  TempDir dir;
  FakeLlm llm(dir, {"--replay", WriteBatchReplay(dir)});
  ASSERT_GT(llm.port(), 0);
  llm.Post("/admin/batches/config", R"({"delay_ms": 1500})");
  const std::string sweep = WriteSweep(dir, {}, llm.base_url());
  const std::string db = dir / "kill.db";
  {
    Proc run(RunArgs(sweep, db), dir / "first.log");
    ASSERT_TRUE(WaitFor(
        [&] {
          return QueryInt(db,
                          "SELECT count(*) FROM batches WHERE provider_id <> '' AND state IN"
                          " ('submitted', 'in_progress')") > 0;
        },
        60'000))
        << run.log();
    run.Kill(SIGKILL);
  }
  EXPECT_GT(QueryInt(db, "SELECT count(*) FROM jobs WHERE state = 'parked'"), 0) << JobStates(db);
  ASSERT_EQ(RunToEnd(dir, sweep, db, "second.log"), 0);
  ExpectExactlyOnce(db, kCells);
  json b = BatchStats(llm);
  EXPECT_EQ(b.value("custom_ids_submitted_twice", -1), 0) << b.dump();
  EXPECT_EQ(b.value("distinct_custom_ids", -1),
            QueryInt(db, "SELECT count(DISTINCT call_key) FROM calls"))
      << b.dump();
  EXPECT_EQ(llm.Stat("requests"), 0);  // nothing went out synchronously
}

// A batch expires with half its requests unanswered: the answered half is kept (never sent
// again), the other half goes into a later batch, and every cell ends once.
TEST(BatchModeTest, ExpiredBatchKeepsItsAnswersAndResubmitsTheRest) {
  TempDir dir;
  FakeLlm llm(dir, {"--replay", WriteBatchReplay(dir)});
  ASSERT_GT(llm.port(), 0);
  llm.Post("/admin/batches/config", R"({"delay_ms": 200, "expire_fraction": 0.5})");
  const std::string sweep = WriteSweep(dir, {}, llm.base_url());
  const std::string db = dir / "expire.db";
  Proc run(RunArgs(sweep, db), dir / "expire.log");
  ASSERT_TRUE(WaitFor(
      [&] { return QueryInt(db, "SELECT count(*) FROM batches WHERE state = 'expired'") > 0; },
      60'000))
      << run.log();
  // Later batches run their course (a batch of one would otherwise never be answered).
  llm.Post("/admin/batches/config", R"({"expire_fraction": 0})");
  ASSERT_TRUE(run.Wait(120'000)) << run.log() << "\n" << JobStates(db);
  EXPECT_EQ(run.exit_code(), 0) << run.log();
  ExpectExactlyOnce(db, kCells);
  // Half of the expired batch was answered and never sent again; the rest was sent twice.
  EXPECT_GT(QueryInt(db, "SELECT count(*) FROM batch_requests WHERE tries = 1"), 0);
  EXPECT_GT(QueryInt(db, "SELECT count(*) FROM batch_requests WHERE tries = 2"), 0);
  EXPECT_EQ(QueryInt(db, "SELECT count(*) FROM batch_requests WHERE state <> 'done'"), 0);
  json b = BatchStats(llm);
  EXPECT_EQ(b.value("lines_received", -1), QueryInt(db, "SELECT sum(tries) FROM batch_requests"))
      << b.dump();
  EXPECT_EQ(b.value("distinct_custom_ids", -1), QueryInt(db, "SELECT count(*) FROM batch_requests"))
      << b.dump();
}

// Every request fails inside its batch (a transient, server-side error): each is sent in 3
// batches, then fails, and its cells fail as a synchronous call with that error would make them.
TEST(BatchModeTest, PerRequestErrorsAreRetriedThenFailTheirCells) {
  TempDir dir;
  FakeLlm llm(dir, {"--replay", WriteBatchReplay(dir)});
  ASSERT_GT(llm.port(), 0);
  llm.Post("/admin/batches/config", R"({"delay_ms": 100, "p_fail": 1.0})");
  const std::string db = dir / "errors.db";
  Proc run(RunArgs(WriteSweep(dir, {}, llm.base_url()), db), dir / "errors.log");
  ASSERT_TRUE(run.Wait(120'000)) << run.log() << "\n" << JobStates(db);
  EXPECT_NE(run.exit_code(), 0) << run.log();
  EXPECT_EQ(QueryInt(db, "SELECT count(*) FROM jobs WHERE state IN ('failed', 'dead')"), kCells)
      << JobStates(db);
  EXPECT_EQ(QueryInt(db, "SELECT count(*) FROM results"), 0);
  const int64_t requests = QueryInt(db, "SELECT count(*) FROM batch_requests");
  EXPECT_GT(requests, 0);
  EXPECT_EQ(QueryInt(db,
                     "SELECT count(*) FROM batch_requests WHERE state = 'failed' AND"
                     " tries = 3"),
            requests);
  EXPECT_GT(QueryInt(db, "SELECT count(*) FROM jobs WHERE last_error LIKE '%provider batch%'"), 0)
      << JobStates(db);
  json b = BatchStats(llm);
  EXPECT_EQ(b.value("lines_received", -1), 3 * requests) << b.dump();
  EXPECT_EQ(llm.Stat("requests"), 0);  // nothing went out synchronously
}

// fakellm refuses uploads over 4,000 bytes: the refused batches' requests are split into
// smaller batches, none is lost or failed, and the grid ends as usual.
TEST(BatchModeTest, UploadRefusedForSizeIsSplitNotLost) {
  TempDir dir;
  FakeLlm llm(dir, {"--replay", WriteBatchReplay(dir)});
  ASSERT_GT(llm.port(), 0);
  llm.Post("/admin/batches/config", R"({"delay_ms": 100, "max_file_bytes": 4000})");
  const std::string db = dir / "size.db";
  ASSERT_EQ(RunToEnd(dir, WriteSweep(dir, {}, llm.base_url()), db, "size.log"), 0);
  ExpectExactlyOnce(db, kCells);
  EXPECT_GT(QueryInt(db, "SELECT count(*) FROM batches WHERE state = 'refused'"), 0);
  EXPECT_EQ(QueryInt(db, "SELECT count(*) FROM batch_requests WHERE state <> 'done'"), 0);
  // A refused upload created no batch at the provider: each call key reached fakellm once.
  json b = BatchStats(llm);
  EXPECT_EQ(b.value("custom_ids_submitted_twice", -1), 0) << b.dump();
  EXPECT_EQ(b.value("distinct_custom_ids", -1), QueryInt(db, "SELECT count(*) FROM batch_requests"))
      << b.dump();
}

// The provider cancels a live batch (as `POST /v1/batches/{id}/cancel` from its console would):
// the requests it had not answered go into a later batch, each once more, and every cell ends
// once.
TEST(BatchModeTest, CancelledBatchResubmitsItsUnansweredRequests) {
  TempDir dir;
  FakeLlm llm(dir, {"--replay", WriteBatchReplay(dir)});
  ASSERT_GT(llm.port(), 0);
  llm.Post("/admin/batches/config", R"({"delay_ms": 60000})");
  const std::string db = dir / "cancel.db";
  Proc run(RunArgs(WriteSweep(dir, {}, llm.base_url()), db), dir / "cancel.log");
  std::string provider_id;
  ASSERT_TRUE(WaitFor(
      [&] {
        QueryTable t = Query(db,
                             "SELECT provider_id FROM batches WHERE provider_id <> '' AND"
                             " state IN ('submitted', 'in_progress') LIMIT 1");
        if (t.rows.empty() || t.rows[0].empty() || !t.rows[0][0]) return false;
        provider_id = *t.rows[0][0];
        return true;
      },
      60'000))
      << run.log();
  llm.Post("/v1/batches/" + provider_id + "/cancel", "");
  // Cancelled a moment into its 60 s: (almost) nothing of it was answered. Once the run has seen
  // it end, the batches still live and the ones to come end after 100 ms.
  ASSERT_TRUE(WaitFor(
      [&] { return QueryInt(db, "SELECT count(*) FROM batches WHERE state = 'cancelled'") > 0; },
      60'000))
      << run.log();
  llm.Post("/admin/batches/config", R"({"delay_ms": 100})");
  ASSERT_TRUE(run.Wait(120'000)) << run.log() << "\n" << JobStates(db);
  EXPECT_EQ(run.exit_code(), 0) << run.log();
  ExpectExactlyOnce(db, kCells);
  EXPECT_EQ(QueryInt(db, "SELECT count(*) FROM batches WHERE state = 'cancelled'"), 1);
  EXPECT_EQ(QueryInt(db, "SELECT count(*) FROM batch_requests WHERE state <> 'done'"), 0);
  EXPECT_GT(QueryInt(db, "SELECT count(*) FROM batch_requests WHERE tries = 2"), 0);
  json b = BatchStats(llm);
  EXPECT_EQ(b.value("lines_received", -1), QueryInt(db, "SELECT sum(tries) FROM batch_requests"))
      << b.dump();
}

}  // namespace
}  // namespace codesweep::testing
