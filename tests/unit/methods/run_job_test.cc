#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>

#include "jobs/methods/method.h"
#include "tests/unit/methods/fakes.h"

namespace codesweep {
namespace {

using namespace codesweep::testing;  // NOLINT

using Harness = RunJobHarness;

std::string Truth(const JobSpec& s) { return FakeInstance(s).truth; }

TEST(MethodTableTest, TenMethodsWithDistinctVersions) {
  const auto& all = AllMethods();
  ASSERT_EQ(all.size(), 10u);
  std::set<std::string> versions;
  for (const MethodInfo& m : all) {
    EXPECT_EQ(FindMethod(m.name), &m);
    EXPECT_FALSE(m.prompt_version.empty());
    versions.insert(m.prompt_version);
  }
  EXPECT_EQ(versions.size(), 10u);
  EXPECT_EQ(FindMethod("nope"), nullptr);
  for (const char* n : {"only_question", "all_text", "all_code", "all_code_cot", "autogen_concat",
                        "autogen_system"}) {
    EXPECT_TRUE(FindMethod(n)->multi_turn) << n;
  }
  EXPECT_TRUE(FindMethod("code_interpreter")->needs_tools);
  EXPECT_FALSE(FindMethod("code_text_sum")->multi_turn);
}

TEST(MethodTableTest, CheckMethodSupported) {
  LlmCapabilities none;
  none.tools = false;
  none.system_message = false;
  EXPECT_FALSE(CheckMethodSupported(*FindMethod("code_interpreter"), none).ok());
  EXPECT_FALSE(CheckMethodSupported(*FindMethod("code_interpreter_plus"), none).ok());
  EXPECT_FALSE(CheckMethodSupported(*FindMethod("autogen_system"), none).ok());
  EXPECT_TRUE(CheckMethodSupported(*FindMethod("autogen_concat"), none).ok());
  EXPECT_TRUE(CheckMethodSupported(*FindMethod("code_interpreter"), LlmCapabilities{}).ok());
}

TEST(RunJobTest, TextReplyIsJudgedWithoutExecution) {
  JobSpec spec = FakeJob("only_question");
  Harness h({Reply("It is <<<" + Truth(spec) + ">>>")});
  Outcome o = h.Run(spec);
  ASSERT_FALSE(o.failed) << o.error;
  EXPECT_TRUE(o.correct);
  EXPECT_EQ(o.passed_by, "reply");
  EXPECT_EQ(o.final_answer, Truth(spec));
  EXPECT_TRUE(h.executor.codes.empty());
  EXPECT_FALSE(o.code_used);
  EXPECT_EQ(o.turns_used, 1);
  ASSERT_EQ(o.calls.size(), 1u);
  EXPECT_EQ(o.calls[0].request_json, CanonicalRequestJson(h.transcript.requests[0]));
  EXPECT_EQ(o.calls[0].call_key, ComputeCallKey(spec.model, h.transcript.requests[0]).value());
  EXPECT_EQ(o.calls[0].tokens_in, 10);
  EXPECT_EQ(o.tokens_out, 5);
  EXPECT_DOUBLE_EQ(o.cost_usd, 0.001);
  EXPECT_EQ(h.transcript.requests[0].messages[0].content, FakeInstance(spec).prompt);
}

// Issue 19 §5: every outcome records where its judged answer came from, with a real task.
TEST(RunJobTest, AnswerSourceIsRecorded) {
  Result<std::unique_ptr<TaskRegistry>> tasks = TaskRegistry::Create(DefaultDataDir());
  ASSERT_TRUE(tasks.ok()) << tasks.status().ToString();
  JobSpec spec = FakeJob("only_question");
  spec.task = "bbh_web_of_lies";
  spec.complexity = "";
  Instance inst = (*tasks)->Find(spec.task)->Generate("", spec.sample, spec.seed).value();
  const std::string target = inst.canonical_answer;
  const std::pair<std::string, std::string> kCases[] = {
      {"It is <<<" + target + ">>>", "tags"},
      {"Reasoning.\nSo the answer is " + target + ".", "fallback"},
      {"Yes or No, hard to say.", "none"}};
  for (const auto& [reply, source] : kCases) {
    Harness h({Reply(reply)});
    h.registry = TaskRegistry::Create(DefaultDataDir()).value();
    Outcome o = h.Run(spec);
    ASSERT_FALSE(o.failed) << o.error;
    EXPECT_EQ(o.answer_source, source) << reply;
    EXPECT_EQ(o.correct, source != "none") << reply;
  }
}

// Issue 16 §1: a worker builds a task on the first job naming it. One whose dataset cannot be
// read on this worker fails the job retryably (another worker may have it), naming the task and
// the file; an unknown name still fails for good.
TEST(RunJobTest, ATaskThatCannotBeBuiltHereFailsTheJobRetryably) {
  const std::string dir = ::testing::TempDir() + "/cs_run_job_empty_data";
  std::filesystem::create_directories(dir);
  JobSpec spec = FakeJob("only_question");
  spec.task = "game24";
  spec.complexity = "4";
  Harness h({Reply("<<<1>>>")});
  h.registry = TaskRegistry::CreateLazy(dir);
  Outcome o = h.Run(spec);
  EXPECT_TRUE(o.failed);
  EXPECT_TRUE(o.retryable);
  EXPECT_NE(o.error.find("task game24 cannot be loaded on this worker"), std::string::npos)
      << o.error;
  EXPECT_NE(o.error.find("puzzles_"), std::string::npos) << o.error;
  spec.task = "no_such_task";
  Harness unknown({Reply("<<<1>>>")});
  unknown.registry = TaskRegistry::CreateLazy(dir);
  Outcome u = unknown.Run(spec);
  EXPECT_TRUE(u.failed);
  EXPECT_FALSE(u.retryable);
  std::filesystem::remove_all(dir);
}

TEST(RunJobTest, CodeIsExecutedAndItsOutputJudged) {
  JobSpec spec = FakeJob("all_code");
  std::string code = "answer = \"" + Truth(spec) + "\"\nprint('<<<' + answer + '>>>')";
  Harness h({Reply("Plan.\n" + PyBlock(code) + "\nsecond:\n" + PyBlock("print('<<<1>>>')"))});
  Outcome o = h.Run(spec);
  ASSERT_FALSE(o.failed) << o.error;
  ASSERT_EQ(h.executor.codes.size(), 1u);  // only block 0
  EXPECT_EQ(h.executor.codes[0], code);
  EXPECT_TRUE(o.correct);
  EXPECT_EQ(o.passed_by, "code");
  EXPECT_TRUE(o.code_used);
  EXPECT_TRUE(o.code_ok);
  ASSERT_EQ(o.executions.size(), 1u);
  EXPECT_EQ(o.executions[0].status, "ok");
  EXPECT_EQ(o.executions[0].stdout_text, "<<<" + Truth(spec) + ">>>\n");
}

TEST(RunJobTest, EitherCandidatePasses) {
  JobSpec spec = FakeJob("all_code");
  // Code prints a wrong number, the reply text is right: correct by the reply.
  Harness a({Reply(PyBlock("print('<<<1>>>')") + "\nSo the answer is <<<" + Truth(spec) + ">>>")});
  Outcome oa = a.Run(spec);
  EXPECT_TRUE(oa.correct);
  EXPECT_EQ(oa.passed_by, "reply");
  // Code right, reply's own marker wrong: correct by the code.
  Harness b({Reply("<<<0>>>\n" + PyBlock("answer = \"" + Truth(spec) + "\"\nprint(answer)"))});
  Outcome ob = b.Run(spec);
  EXPECT_TRUE(ob.correct);
  EXPECT_EQ(ob.passed_by, "code");
  // Both wrong.
  Harness c({Reply(PyBlock("print('<<<1>>>')") + "\n<<<2>>>")});
  Outcome oc = c.Run(spec);
  EXPECT_FALSE(oc.correct);
  EXPECT_EQ(oc.passed_by, "");
  EXPECT_EQ(oc.final_answer, "1");  // the executed answer is reported
}

TEST(RunJobTest, AllTextSendsTheTextInstruction) {
  JobSpec spec = FakeJob("all_text");
  Harness h({Reply("<<<" + Truth(spec) + ">>>")});
  Outcome o = h.Run(spec);
  EXPECT_TRUE(o.correct);
  const std::string& sent = h.transcript.requests[0].messages[0].content;
  EXPECT_NE(sent.find("Do not output code"), std::string::npos);
  EXPECT_NE(sent.find(FakeInstance(spec).prompt), std::string::npos);
  EXPECT_TRUE(h.executor.codes.empty());
}

TEST(RunJobTest, AutogenSystemUsesTheSystemRole) {
  JobSpec spec = FakeJob("autogen_system");
  Harness h({Reply("<<<1>>>")});
  (void)h.Run(spec);
  const auto& msgs = h.transcript.requests[0].messages;
  ASSERT_EQ(msgs.size(), 2u);
  EXPECT_EQ(msgs[0].role, "system");
  EXPECT_NE(msgs[0].content.find("TERMINATE"), std::string::npos);
  EXPECT_EQ(msgs[1].content, FakeInstance(spec).prompt);
}

TEST(MultiTurnTest, StopsOnTerminate) {
  JobSpec spec = FakeJob("all_code", 4);
  Harness h({Reply(PyBlock("print('<<<1>>>')")), Reply(PyBlock("raise ValueError()")),
             Reply("The answer is <<<" + Truth(spec) + ">>>\nTERMINATE"), Reply("never sent")});
  Outcome o = h.Run(spec);
  ASSERT_FALSE(o.failed) << o.error;
  ASSERT_EQ(o.calls.size(), 3u);
  EXPECT_EQ(o.turns_used, 3);
  EXPECT_EQ(o.calls[2].turn, 2);
  EXPECT_EQ(o.executions.size(), 2u);
  EXPECT_EQ(o.executions[1].turn, 1);
  EXPECT_TRUE(o.correct);
  EXPECT_EQ(o.passed_by, "reply");
  // Turn 2's request carries turn 1's output and the with-code refinement prompt.
  const auto& msgs = h.transcript.requests[1].messages;
  ASSERT_EQ(msgs.size(), 3u);
  EXPECT_EQ(msgs[1].role, "assistant");
  EXPECT_NE(msgs[2].content.find("output: <<<1>>>"), std::string::npos);
  EXPECT_NE(msgs[2].content.find("TERMINATE"), std::string::npos);
  // Turn 3's request carries the exception.
  EXPECT_NE(h.transcript.requests[2].messages[4].content.find("IndexError"), std::string::npos);
  EXPECT_EQ(nlohmann::json::parse(o.extra_json)["terminated"], true);
}

TEST(MultiTurnTest, StopsAtTheCap) {
  JobSpec spec = FakeJob("only_question", 2);
  Harness h({Reply("<<<1>>>"), Reply("<<<2>>>"), Reply("<<<3>>>")});
  Outcome o = h.Run(spec);
  ASSERT_EQ(o.calls.size(), 2u);
  EXPECT_EQ(o.turns_used, 2);
  EXPECT_EQ(o.final_answer, "2");
  // A text answer is followed by the without-code prompt.
  EXPECT_NE(h.transcript.requests[1].messages[2].content.find("Review your previous answer"),
            std::string::npos);
}

TEST(MultiTurnTest, TimeoutIsFedBackNotFatal) {
  JobSpec spec = FakeJob("all_code_cot", 2);
  Harness h({Reply(PyBlock("while True:\n    pass")),
             Reply(PyBlock("answer = \"" + Truth(spec) + "\"\nprint(answer)"))});
  Outcome o = h.Run(spec);
  ASSERT_FALSE(o.failed) << o.error;
  EXPECT_EQ(o.executions[0].status, "timeout");
  EXPECT_NE(h.transcript.requests[1].messages[2].content.find("TimeoutExpired"), std::string::npos);
  EXPECT_TRUE(o.correct);
  EXPECT_TRUE(o.code_ok);
}

TEST(MultiTurnTest, TurnsIgnoredForSingleTurnMethods) {
  JobSpec spec = FakeJob("code_text_sum", 4);
  Harness h({Reply("<<<1>>>")});
  Outcome o = h.Run(spec);
  EXPECT_EQ(o.calls.size(), 3u);
}

TEST(CodeInterpreterTest, SeveralToolCallsThenAnswer) {
  JobSpec spec = FakeJob("code_interpreter");
  Harness h(
      {ToolCallReply("c1", R"js({"code":"print('<<<1>>>')"})js"),
       ToolCallReply(
           "c2",
           nlohmann::json{{"code", "answer = \"" + Truth(spec) + "\"\nprint(answer)"}}.dump()),
       Reply("Final: <<<" + Truth(spec) + ">>>")});
  Outcome o = h.Run(spec);
  ASSERT_FALSE(o.failed) << o.error;
  EXPECT_EQ(o.calls.size(), 3u);
  EXPECT_EQ(o.executions.size(), 2u);
  EXPECT_TRUE(o.correct);
  EXPECT_EQ(o.passed_by, "code");
  EXPECT_TRUE(o.code_used);
  ASSERT_EQ(h.transcript.requests[0].tools.size(), 1u);
  EXPECT_EQ(h.transcript.requests[0].tools[0].name, "python");
  const auto& msgs = h.transcript.requests[2].messages;
  ASSERT_EQ(msgs.size(), 5u);
  EXPECT_EQ(msgs[1].tool_calls[0].id, "c1");
  EXPECT_EQ(msgs[2].role, "tool");
  EXPECT_EQ(msgs[2].tool_call_id, "c1");
  EXPECT_NE(msgs[2].content.find("<<<1>>>"), std::string::npos);
  EXPECT_EQ(nlohmann::json::parse(o.extra_json)["tool_calls"], 2);
}

TEST(CodeInterpreterTest, InvalidArgumentsComeBackAsToolErrors) {
  JobSpec spec = FakeJob("code_interpreter_plus");
  Harness h({ToolCallReply("bad1", "{not json"), ToolCallReply("bad2", R"({"source":"x"})"),
             ToolCallReply("bad3", R"({"code":"x"})", "bash"), Reply("<<<5>>>")});
  Outcome o = h.Run(spec);
  ASSERT_FALSE(o.failed) << o.error;
  EXPECT_TRUE(h.executor.codes.empty());
  EXPECT_EQ(o.calls.size(), 4u);
  EXPECT_NE(h.transcript.requests[1].messages.back().content.find("invalid arguments"),
            std::string::npos);
  EXPECT_NE(h.transcript.requests[3].messages.back().content.find("unknown tool"),
            std::string::npos);
  EXPECT_NE(h.transcript.requests[0].messages[0].content.find("`python` tool"), std::string::npos);
  EXPECT_EQ(nlohmann::json::parse(o.extra_json)["invalid_tool_calls"], 3);
}

TEST(CodeInterpreterTest, EndlessToolCallsAreCapped) {
  JobSpec spec = FakeJob("code_interpreter");
  Harness h({ToolCallReply("again", R"js({"code":"print('<<<1>>>')"})js")});  // repeats forever
  Outcome o = h.Run(spec);
  ASSERT_FALSE(o.failed) << o.error;
  EXPECT_EQ(o.executions.size(), 8u);
  EXPECT_EQ(o.calls.size(), 10u);
  auto extra = nlohmann::json::parse(o.extra_json);
  EXPECT_EQ(extra["tool_cap_hit"], true);
  EXPECT_NE(h.transcript.requests[9].messages.back().content.find("limit"), std::string::npos);
}

TEST(CodeInterpreterTest, ModelWithoutToolsIsAClearError) {
  JobSpec spec = FakeJob("code_interpreter");
  LlmCapabilities caps;
  caps.tools = false;
  Harness h({Reply("x")}, caps);
  Outcome o = h.Run(spec);
  EXPECT_TRUE(o.failed);
  EXPECT_FALSE(o.retryable);
  EXPECT_NE(o.error.find("tool"), std::string::npos);
  EXPECT_TRUE(o.calls.empty());
}

TEST(CodeTextSumTest, InnerRequestsEqualAllTextAndAllCodeCot) {
  JobSpec spec = FakeJob("code_text_sum");
  Harness h({Reply("text says <<<1>>>"), Reply(PyBlock("print('<<<2>>>')")),
             Reply("Summary: <<<" + Truth(spec) + ">>>")});
  Outcome o = h.Run(spec);
  ASSERT_FALSE(o.failed) << o.error;
  ASSERT_EQ(o.calls.size(), 3u);
  EXPECT_TRUE(o.correct);
  Harness text({Reply("x")}), cot({Reply("x")});
  Outcome ot = text.Run(FakeJob("all_text"));
  Outcome oc = cot.Run(FakeJob("all_code_cot"));
  EXPECT_EQ(o.calls[0].request_json, ot.calls[0].request_json);
  EXPECT_EQ(o.calls[0].call_key, ot.calls[0].call_key);
  EXPECT_EQ(o.calls[1].request_json, oc.calls[0].request_json);
  const std::string& summary = h.transcript.requests[2].messages[0].content;
  EXPECT_NE(summary.find("two agents"), std::string::npos);
  EXPECT_NE(summary.find("text says <<<1>>>"), std::string::npos);
  EXPECT_NE(summary.find("The execution result of Agent 2's code:\noutput: <<<2>>>"),
            std::string::npos);
  EXPECT_EQ(summary.find("Agent 1's code"), std::string::npos);
  EXPECT_EQ(o.executions.size(), 1u);
  EXPECT_EQ(o.turns_used, 3);
}

TEST(SelfEstimateTest, ChoosesTheHigherScoreAndRecordsIt) {
  JobSpec spec = FakeJob("self_estimate");
  Harness h({Reply("Code score: 3\nText score: 9"), Reply("<<<" + Truth(spec) + ">>>")});
  Outcome o = h.Run(spec);
  ASSERT_FALSE(o.failed) << o.error;
  ASSERT_EQ(o.calls.size(), 2u);
  Harness text({Reply("x")});
  EXPECT_EQ(o.calls[1].request_json, text.Run(FakeJob("all_text")).calls[0].request_json);
  auto extra = nlohmann::json::parse(o.extra_json);
  EXPECT_EQ(extra["choice"], "text");
  EXPECT_EQ(extra["code_score"], 3.0);
  EXPECT_EQ(extra["text_score"], 9.0);
  EXPECT_TRUE(o.correct);
}

TEST(SelfEstimateTest, UnreadableScoresChooseCode) {
  JobSpec spec = FakeJob("self_estimate");
  Harness h({Reply("I am fairly sure."), Reply(PyBlock("print('<<<1>>>')"))});
  Outcome o = h.Run(spec);
  auto extra = nlohmann::json::parse(o.extra_json);
  EXPECT_EQ(extra["choice"], "code");
  EXPECT_EQ(extra["scores_parsed"], false);
  EXPECT_EQ(h.executor.codes.size(), 1u);
}

TEST(RunJobErrorsTest, TransientClientErrorIsRetryable) {
  Harness h({Status::Unavailable("503 from provider")});
  Outcome o = h.Run(FakeJob("only_question"));
  EXPECT_TRUE(o.failed);
  EXPECT_TRUE(o.retryable);
  ASSERT_EQ(o.calls.size(), 1u);
  EXPECT_NE(o.calls[0].error.find("503"), std::string::npos);
  EXPECT_EQ(o.calls[0].response_json, "");
}

TEST(RunJobErrorsTest, PermanentClientErrorIsNotRetryable) {
  Harness h({Reply(PyBlock("print(1)")), Status::InvalidArgument("400 bad request")});
  Outcome o = h.Run(FakeJob("all_code", 2));
  EXPECT_TRUE(o.failed);
  EXPECT_FALSE(o.retryable);
  EXPECT_NE(o.error.find("400"), std::string::npos);
  EXPECT_EQ(o.calls.size(), 2u);  // what happened before the error is kept
}

// Errors are shown to users (status, report, show, the run summary): they say what happened in
// words, without the internal status names ("InvalidArgument: 400 bad request" before).
TEST(RunJobErrorsTest, ErrorsCarryNoInternalStatusNames) {
  Harness h({Reply(PyBlock("print(1)")), Status::InvalidArgument("400 bad request")});
  Outcome o = h.Run(FakeJob("all_code", 2));
  EXPECT_EQ(o.error, "400 bad request");
  ASSERT_EQ(o.calls.size(), 2u);
  EXPECT_EQ(o.calls[1].error, "400 bad request");
  Harness sandbox({Reply(PyBlock("print(1)"))});
  sandbox.executor.fail_with = Status::IoError("cannot spawn");
  Outcome s = sandbox.Run(FakeJob("all_code"));
  EXPECT_EQ(s.error.find("IoError"), std::string::npos) << s.error;
  EXPECT_EQ(s.error.find("Unavailable"), std::string::npos) << s.error;
}

TEST(RunJobErrorsTest, SandboxFailureIsRetryable) {
  Harness h({Reply(PyBlock("print(1)"))});
  h.executor.fail_with = Status::IoError("cannot spawn");
  Outcome o = h.Run(FakeJob("all_code"));
  EXPECT_TRUE(o.failed);
  EXPECT_TRUE(o.retryable);
  EXPECT_NE(o.error.find("sandbox"), std::string::npos);
}

TEST(RunJobErrorsTest, BadSpecsFailClearly) {
  Harness h({Reply("x")});
  JobSpec s = FakeJob("only_question");
  s.method = "all_magic";
  EXPECT_NE(h.Run(s).error.find("unknown method"), std::string::npos);
  s = FakeJob("only_question");
  s.task = "nope";
  EXPECT_NE(h.Run(s).error.find("unknown task"), std::string::npos);
  s = FakeJob("only_question");
  s.complexity = "99";
  EXPECT_TRUE(h.Run(s).failed);
  s = FakeJob("only_question");
  s.sandbox_json = R"({"wall_msec": 5})";
  Outcome o = h.Run(s);
  EXPECT_TRUE(o.failed);
  EXPECT_FALSE(o.retryable);
  RunnerDeps empty;
  EXPECT_TRUE(RunJob(FakeJob("only_question"), empty).failed);
}

TEST(RunJobErrorsTest, FactoryErrorIsReported) {
  auto registry = FakeRegistry();
  FakeExecutor executor;
  RunnerDeps deps;
  deps.tasks = registry.get();
  deps.executor = &executor;
  deps.make_client = [](const JobSpec&, const Task&,
                        const Instance&) -> Result<std::unique_ptr<LlmClient>> {
    return Status::PermissionDenied("no API key in OPENAI_API_KEY");
  };
  Outcome o = RunJob(FakeJob("only_question"), deps);
  EXPECT_TRUE(o.failed);
  EXPECT_FALSE(o.retryable);
  EXPECT_NE(o.error.find("OPENAI_API_KEY"), std::string::npos);
}

}  // namespace
}  // namespace codesweep
