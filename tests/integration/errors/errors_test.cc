// Errors classified and recorded as they happened, end to end: `codesweep run` and `codesweep
// validate --probe` against a real fakellm process scripted to fail (docs/llm.md).
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "tests/integration/ratelimit/fakellm_harness.h"

namespace codesweep::testing {
namespace {

struct Sweep {
  std::string name = "errs";
  std::string model = "openai:fake";
  std::string method = "only_question";
  int samples = 2;
  std::string model_extra;  // more TOML lines under the model
};

std::string WriteErrSweep(const TempDir& dir, const Sweep& s, const std::string& base_url) {
  std::string path = dir / (s.name + ".toml");
  std::ofstream out(path);
  out << "name = \"" << s.name << "\"\nseed = 7\nsamples = " << s.samples
      << "\nmax_attempts = 3\nmethods = [\"" << s.method << "\"]\n\n[[tasks]]\n"
      << "name = \"number_multiply\"\ncomplexity = [\"2_2\"]\n\n"
      << "[models.\"" << s.model << "\"]\nbase_url = \"" << base_url << "\"\napi_key_env = \"\"\n"
      << "cell_context_header = true\nmax_tokens = 256\n"
      << s.model_extra;
  return path;
}

// `codesweep run` to the end, one worker loop with one slot. Exit 0 when every cell has a
// verdict, 3 when some ended failed or dead (docs/operations.md).
void RunSweep(const TempDir& dir, const std::string& sweep, const std::string& db,
              int expected_exit = 0) {
  Proc run({Binary(), "run", sweep, "--db", db, "--workers", "1", "--slots", "1", "--quiet"},
           dir / "run.log");
  ASSERT_TRUE(run.Wait(120'000)) << run.log();
  ASSERT_EQ(run.exit_code(), expected_exit) << run.log();
}

TEST(ErrorsIntegration, FailedCallsCarryTheirHttpStatusTriesAndLatency) {
  TempDir dir;
  FakeLlm llm(dir, {"--p503", "1"});
  ASSERT_GT(llm.port(), 0);
  Sweep s;
  s.samples = 1;
  s.model_extra = "retry = {max_attempts = 2, base_backoff_ms = 20, max_backoff_ms = 20}\n";
  const std::string db = dir / "errs.db";
  RunSweep(dir, WriteErrSweep(dir, s, llm.base_url()), db, 3);  // the cell ends dead
  // Before: every failed call was stored as status 0, 1 attempt, 0 ms.
  EXPECT_EQ(QueryInt(db, "SELECT count(*) FROM calls"), 3);  // one per lease
  EXPECT_EQ(QueryInt(db,
                     "SELECT count(*) FROM calls WHERE error <> '' AND http_status = 503"
                     " AND attempts = 2 AND latency_ms > 0"),
            3);
  // Every HTTP attempt is counted: the calls' attempts add up to what fakellm served.
  EXPECT_EQ(QueryInt(db, "SELECT sum(attempts) FROM calls"), llm.Stat("requests"));
  EXPECT_EQ(QueryInt(db, "SELECT retries FROM v_model_cost"), 3);
  EXPECT_EQ(QueryInt(db, "SELECT errors FROM v_model_cost"), 3);
}

TEST(ErrorsIntegration, IdenticalServerErrorFailsTheCellAndTheBreakerTheRest) {
  TempDir dir;
  FakeLlm llm(dir, {});
  ASSERT_GT(llm.port(), 0);
  Sweep s;
  s.model = "openai:broken-model";
  s.samples = 12;
  const std::string db = dir / "errs.db";
  RunSweep(dir, WriteErrSweep(dir, s, llm.base_url()), db, 3);  // the cells end failed
  EXPECT_EQ(QueryInt(db, "SELECT count(*) FROM jobs WHERE state = 'failed' AND attempts = 1"), 12)
      << JobStates(db);
  // Three cells pay two requests each (an identical 500 body twice is permanent); the breaker
  // then fails the rest without a request (one slot: at most one more cell was in flight).
  EXPECT_LE(llm.Stat("requests"), 8);
  EXPECT_GE(llm.Stat("requests"), 6);
  EXPECT_EQ(QueryInt(db, "SELECT count(*) FROM jobs WHERE last_error LIKE '%is broken%'"), 12);
  EXPECT_GE(QueryInt(db, "SELECT count(*) FROM jobs WHERE last_error LIKE '%circuit breaker%'"), 8);
  EXPECT_EQ(QueryInt(db, "SELECT count(*) FROM calls WHERE http_status = 500 AND attempts = 2"),
            llm.Stat("requests") / 2);
}

TEST(ErrorsIntegration, SilentlyTruncatedPromptsAreFlaggedAndCounted) {
  TempDir dir;
  FakeLlm llm(dir, {"--context-tokens", "16"});
  ASSERT_GT(llm.port(), 0);
  Sweep s;
  s.samples = 3;
  const std::string db = dir / "errs.db";
  RunSweep(dir, WriteErrSweep(dir, s, llm.base_url()), db);
  ASSERT_EQ(llm.Stat("prompts_cut"), 3);
  EXPECT_EQ(QueryInt(db, "SELECT count(*) FROM calls WHERE prompt_truncated = 1"), 3);
  EXPECT_EQ(QueryInt(db, "SELECT prompt_truncated FROM v_model_cost"), 3);
  Proc status({Binary(), "status", "--db", db}, dir / "status.log");
  ASSERT_TRUE(status.Wait(30'000));
  EXPECT_NE(status.log().find("prompt_truncated 3"), std::string::npos) << status.log();

  // The same sweep on a server with room: nothing flagged.
  TempDir dir2;  // its own fakellm.log
  FakeLlm roomy(dir2, {});
  s.name = "roomy";
  const std::string db2 = dir2 / "roomy.db";
  RunSweep(dir2, WriteErrSweep(dir2, s, roomy.base_url()), db2);
  EXPECT_EQ(QueryInt(db2, "SELECT count(*) FROM calls WHERE prompt_truncated = 1"), 0);
}

TEST(ErrorsIntegration, ValidateProbeSpendsOneRequestPerModel) {
  TempDir dir;
  FakeLlm llm(dir, {"--context-tokens", "4096"});
  ASSERT_GT(llm.port(), 0);
  const std::string sweep = dir / "probe.toml";
  {
    std::ofstream out(sweep);
    out << "name = \"probe\"\nseed = 1\nsamples = 1\n"
        << "methods = [\"only_question\", \"code_interpreter\"]\n\n"
        << "[[tasks]]\nname = \"number_multiply\"\ncomplexity = [\"2_2\"]\n\n";
    for (const char* m : {"fake", "nojinja-7b", "keyed"}) {
      out << "[models.\"openai:" << m << "\"]\nbase_url = \"" << llm.base_url() << "\"\n"
          << "api_key_env = \""
          << (std::string(m) == "keyed" ? "CODESWEEP_TEST_UNSET_KEY_VARIABLE" : "") << "\"\n\n";
    }
  }
  Proc probe({Binary(), "validate", sweep, "--probe"}, dir / "probe.log");
  ASSERT_TRUE(probe.Wait(60'000));
  const std::string log = probe.log();
  EXPECT_EQ(probe.exit_code(), 1) << log;  // a model refused tools
  EXPECT_NE(log.find("at most one request per model (3 in all)"), std::string::npos) << log;
  EXPECT_NE(log.find("api_key_env CODESWEEP_TEST_UNSET_KEY_VARIABLE is not set"), std::string::npos)
      << log;
  EXPECT_NE(log.find("reachable (HTTP 200), auth none sent, tools ok, context 4096 tokens"),
            std::string::npos)
      << log;
  EXPECT_NE(log.find("tools refused, context 4096 tokens: tools param requires --jinja flag"),
            std::string::npos)
      << log;
  EXPECT_EQ(llm.Stat("requests"), 3);
  EXPECT_EQ(log.find("InvalidArgument"), std::string::npos) << log;
}

}  // namespace
}  // namespace codesweep::testing
