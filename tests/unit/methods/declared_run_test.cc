// RunJob on declared tasks: the job carries the task's definition and its row (no dataset file),
// the declared extractors and scorer judge it, the extractor that answered is recorded, partial
// scores are kept; a Python scorer runs in the real sandbox (fork-server mode) and each way it can
// fail is a verdict with a reason; an LLM judge is called through the job's client factory.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "jobs/methods/method.h"
#include "jobs/sandbox/sandbox.h"
#include "tests/unit/methods/fakes.h"

namespace codesweep {
namespace {

using namespace codesweep::testing;  // NOLINT
using ::testing::HasSubstr;

nlohmann::json Table(nlohmann::json scorer, nlohmann::json answer = {"triple_angle", "boxed"}) {
  return {{"name", "adds"},  {"dataset", "adds.jsonl"}, {"prompt", "What is {q}?"},
          {"target", "{a}"}, {"answer", answer},        {"scorer", scorer}};
}

JobSpec DeclaredJob(const nlohmann::json& table, nlohmann::json judge_model = nullptr) {
  JobSpec s = FakeJob("only_question");
  s.task = "adds";
  s.complexity = "";
  nlohmann::json def = {{"task", table}};
  if (!judge_model.is_null()) def["judge_model"] = judge_model;
  s.task_def = def.dump();
  s.task_row = R"({"q":"2+2","a":4})";
  return s;
}

struct Harness {
  Outcome Run(const JobSpec& spec, Executor* exec = nullptr) {
    RunnerDeps deps;
    deps.tasks = &registry;  // empty: a declared job needs no registered task
    deps.executor = exec != nullptr ? exec : &executor;
    deps.clock = &clock;
    deps.make_client = [this](const JobSpec& s, const Task&,
                              const Instance&) -> Result<std::unique_ptr<LlmClient>> {
      if (s.model.id == "judge:m") {
        return std::unique_ptr<LlmClient>(new ScriptedClient(judge, &judge_transcript));
      }
      return std::unique_ptr<LlmClient>(new ScriptedClient(script, &transcript));
    };
    return RunJob(spec, deps);
  }
  std::vector<Result<LlmResponse>> script;
  std::vector<Result<LlmResponse>> judge;
  TaskRegistry registry;
  FakeExecutor executor;
  FakeClock clock;
  Transcript transcript, judge_transcript;
};

TEST(DeclaredRunTest, RuleScorerRecordsTheExtractorThatAnswered) {
  Harness h;
  h.script = {Reply("so \\boxed{4.0}")};
  Outcome o = h.Run(DeclaredJob(Table({{"kind", "numeric"}})));
  ASSERT_FALSE(o.failed) << o.error;
  EXPECT_TRUE(o.correct) << o.verdict_reason;
  EXPECT_EQ(o.answer_source, "fallback");  // the chain's second extractor
  EXPECT_EQ(nlohmann::json::parse(o.extra_json)["extractor"], "boxed");
  EXPECT_EQ(o.final_answer, "4");  // as the numeric scorer read it
  ASSERT_EQ(h.transcript.requests.size(), 1u);
  EXPECT_THAT(h.transcript.requests[0].messages.back().content, HasSubstr("What is 2+2?"));

  h.script = {Reply("no answer here")};
  o = h.Run(DeclaredJob(Table({{"kind", "numeric"}})));
  EXPECT_FALSE(o.correct);
  EXPECT_EQ(o.answer_source, "none");
  EXPECT_THAT(o.verdict_reason, HasSubstr("no answer found (tried triple_angle, boxed)"));
}

TEST(DeclaredRunTest, PartialScoresAreKept) {
  Harness h;
  h.script = {Reply("<<<red, blue>>>")};
  JobSpec spec = DeclaredJob(Table("set"));
  spec.task_row = R"({"q":"colors","a":"red, green"})";
  Outcome o = h.Run(spec);
  ASSERT_FALSE(o.failed) << o.error;
  EXPECT_FALSE(o.correct);
  EXPECT_NEAR(o.score, 0.5, 1e-9);
}

TEST(DeclaredRunTest, MalformedDefinitionOrRowFailsTheCell) {
  Harness h;
  h.script = {Reply("<<<4>>>")};
  JobSpec spec = DeclaredJob(Table("exact"));
  spec.task_row = "[1, 2";
  Outcome o = h.Run(spec);
  EXPECT_TRUE(o.failed);
  EXPECT_FALSE(o.retryable);
  EXPECT_THAT(o.error, HasSubstr("row is not a JSON object"));
  spec = DeclaredJob(Table("exact"));
  spec.task_row = R"({"q":"2+2"})";  // no target field
  o = h.Run(spec);
  EXPECT_TRUE(o.failed);
  EXPECT_THAT(o.error, HasSubstr("no longer renders"));
}

TEST(DeclaredRunTest, JudgeIsCalledAndItsVerdictAndReasoningStored) {
  Harness h;
  h.script = {Reply("<<<four>>>")};
  h.judge = {Reply("The reference is 4 and 'four' names it.\nGRADE: C")};
  nlohmann::json judge_model = {{"id", "judge:m"},
                                {"provider", "test"},
                                {"name", "m"},
                                {"options_json", "{}"},
                                {"gen",
                                 {{"temperature", 0.0},
                                  {"top_p", 1.0},
                                  {"max_tokens", 300},
                                  {"stop", nlohmann::json::array()}}}};
  Outcome o = h.Run(DeclaredJob(Table({{"kind", "judge"}, {"model", "judge:m"}}), judge_model));
  ASSERT_FALSE(o.failed) << o.error;
  EXPECT_TRUE(o.correct) << o.verdict_reason;
  EXPECT_THAT(o.verdict_reason, HasSubstr("judge: The reference is 4"));
  EXPECT_EQ(o.answer_source, "tags");
  ASSERT_EQ(o.calls.size(), 2u);  // the model's call, then the judge's
  EXPECT_THAT(o.calls[1].request_json, HasSubstr("Submitted answer:\\nfour"));
  ASSERT_EQ(h.judge_transcript.requests.size(), 1u);
  EXPECT_EQ(h.judge_transcript.requests[0].gen.max_tokens, 300);
  nlohmann::json extra = nlohmann::json::parse(o.extra_json);
  EXPECT_EQ(extra["scorer"][0]["kind"], "judge");
  EXPECT_EQ(extra["scorer"][0]["grade"], "C");

  h.judge = {Reply("I cannot decide.")};  // no grade: incorrect, with the reason
  o = h.Run(DeclaredJob(Table({{"kind", "judge"}, {"model", "judge:m"}}), judge_model));
  ASSERT_FALSE(o.failed) << o.error;
  EXPECT_FALSE(o.correct);
  EXPECT_THAT(o.verdict_reason, HasSubstr("the judge gave no grade"));

  h.judge = {Status::Unavailable("judge down")};  // the judge unreachable: retry the cell
  o = h.Run(DeclaredJob(Table({{"kind", "judge"}, {"model", "judge:m"}}), judge_model));
  EXPECT_TRUE(o.failed);
  EXPECT_TRUE(o.retryable);
}

class PythonScorerRunTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SandboxOptions options;
    options.mode = "forkserver";
    options.preload = {};
    auto made = MakeSandbox(options, Logger::Null());
    if (!made.ok()) GTEST_SKIP() << "no sandbox tier on this machine: " << made.status().ToString();
    sandbox_ = std::move(made).value();
  }
  Outcome Score(const std::string& source, const std::string& reply = "<<<4>>>") {
    Harness h;
    h.script = {Reply(reply)};
    JobSpec spec = DeclaredJob(Table({{"kind", "python"}, {"source", source}}));
    spec.sandbox_json = R"({"wall_ms": 1000})";
    return h.Run(spec, sandbox_.get());
  }
  std::unique_ptr<Executor> sandbox_;
};

TEST_F(PythonScorerRunTest, VerdictsAndFailuresAreVerdicts) {
  Outcome ok = Score(
      "def score(answer, row, reply):\n"
      "    return {'correct': float(answer) == row['a'], 'reason': 'compared ' + answer}\n");
  ASSERT_FALSE(ok.failed) << ok.error;
  EXPECT_TRUE(ok.correct) << ok.verdict_reason;
  EXPECT_EQ(ok.verdict_reason, "compared 4");
  EXPECT_EQ(ok.answer_source, "tags");
  EXPECT_TRUE(ok.executions.empty());  // the scorer is not the model's code
  EXPECT_EQ(nlohmann::json::parse(ok.extra_json)["scorer"][0]["status"], "ok");

  Outcome partial = Score("def score(answer, row, reply):\n    return 0.25\n");
  EXPECT_FALSE(partial.correct);
  EXPECT_NEAR(partial.score, 0.25, 1e-9);

  struct Case {
    const char* source;
    const char* reason;
  } cases[] = {
      {"def score(answer, row, reply):\n    raise ValueError('bad row')\n", "ValueError: bad row"},
      {"def score(answer, row, reply):\n    while True: pass\n", "timed out"},
      {"import os\ndef score(answer, row, reply):\n    os._exit(3)\n", "failed"},
      {"import os, signal\ndef score(a, r, p):\n    os.kill(os.getpid(), signal.SIGKILL)\n",
       "killed"},
      {"def score(answer, row, reply):\n    return 'yes'\n", "not a bool"},
      {"def score(answer, row, reply):\n    return 7\n", "not a score in [0, 1]"},
      {"def score(answer, row, reply):\n    return object()\n", "not a bool"},
      {"def nothing(): pass\n", "NameError"},
  };
  for (const Case& c : cases) {
    Outcome o = Score(c.source);
    ASSERT_FALSE(o.failed) << c.source << ": " << o.error;
    EXPECT_FALSE(o.correct) << c.source;
    EXPECT_THAT(o.verdict_reason, HasSubstr(c.reason)) << c.source;
  }
}

// Each verdict runs in a fork of one warm interpreter that loaded the scorer file: the load token
// is the same every time (the file ran once), and what one verdict appends to a global is gone
// by the next.
TEST_F(PythonScorerRunTest, ScorerStateDoesNotCarryOverBetweenVerdicts) {
  const std::string source =
      "import random\nLOADED = random.getrandbits(62)\nseen = []\n"
      "def score(answer, row, reply):\n"
      "    seen.append(answer)\n"
      "    return {'correct': len(seen) == 1, 'reason': '%d %d' % (len(seen), LOADED)}\n";
  Outcome first = Score(source);
  ASSERT_FALSE(first.failed) << first.error;
  EXPECT_TRUE(first.correct) << first.verdict_reason;
  EXPECT_EQ(first.verdict_reason.substr(0, 2), "1 ");
  for (const char* reply : {"<<<4>>>", "<<<5>>>"}) {
    Outcome next = Score(source, reply);
    ASSERT_FALSE(next.failed) << next.error;
    EXPECT_EQ(next.verdict_reason, first.verdict_reason);
  }
}

}  // namespace
}  // namespace codesweep
