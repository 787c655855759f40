// Declared methods (jobs/methods/method_template.h): template syntax, checks, canonical JSON and
// versions, and runs through RunJob against a scripted client: the four code modes, feedback
// placeholders, and a built-in method (all_code) written as a template sending the same requests.
#include "jobs/methods/method_template.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "jobs/methods/prompts.h"
#include "tests/unit/methods/fakes.h"

namespace codesweep {
namespace {

using namespace codesweep::testing;  // NOLINT

using Harness = RunJobHarness;

MethodTemplate Cot() {
  MethodTemplate t;
  t.name = "my_cot";
  t.system = "You are careful.";
  t.prompt = "{task_prompt}\nThink step by step.";
  return t;
}

JobSpec TemplateJob(const MethodTemplate& t, int turns = 1) {
  JobSpec spec = FakeJob(t.name, turns);
  spec.method_json = MethodTemplateJson(t);
  return spec;
}

std::string Truth(const JobSpec& s) { return FakeInstance(s).truth; }

TEST(MethodTemplateTextTest, PlaceholdersAndBraces) {
  EXPECT_TRUE(CheckTemplateText("{task_prompt} and {{literal}}", PromptPlaceholders()).ok());
  Status s = CheckTemplateText("{task_prompt} {output}", PromptPlaceholders());
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("unknown placeholder {output}"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("{task_prompt}"), std::string::npos) << s.message();
  EXPECT_TRUE(CheckTemplateText("{output}", FeedbackPlaceholders()).ok());
  for (const char* bad : {"{", "}", "a { b", "{ task_prompt }", "{}", "{task-prompt}", "x}y"}) {
    EXPECT_FALSE(CheckTemplateText(bad, PromptPlaceholders()).ok()) << bad;
  }
  EXPECT_EQ(RenderTemplate("{{{task}}} {x} {task}!", {{"task", "t"}}), "{t}  t!");  // x: ""
  EXPECT_EQ(RenderTemplate("no placeholders", {}), "no placeholders");
  EXPECT_FALSE(
      CheckTemplateText(std::string(kMaxTemplateBytes + 1, 'a'), PromptPlaceholders()).ok());
}

TEST(MethodTemplateTest, ChecksNameModeTurnsAndFeedback) {
  MethodTemplate t = Cot();
  EXPECT_TRUE(CheckMethodTemplate(t).ok());
  auto message = [](const MethodTemplate& x) { return CheckMethodTemplate(x).message(); };
  MethodTemplate b = t;
  b.name = "all_code";
  EXPECT_EQ(message(b).rfind("name: ", 0), 0u) << message(b);
  b = t;
  b.name = "a.b";
  EXPECT_EQ(message(b).rfind("name: ", 0), 0u);
  b = t;
  b.turns = 3;
  EXPECT_EQ(message(b).rfind("turns: ", 0), 0u) << message(b);  // no feedback
  b.feedback = "{output}";
  EXPECT_TRUE(CheckMethodTemplate(b).ok());
  b.code = CodeMode::kTool;
  EXPECT_EQ(message(b).rfind("feedback: ", 0), 0u) << message(b);
  b = t;
  b.feedback = "{task_prompt} {nope}";
  EXPECT_EQ(message(b).rfind("feedback: unknown placeholder {nope}", 0), 0u) << message(b);
  b = t;
  b.prompt = "{output}";
  EXPECT_EQ(message(b).rfind("prompt: unknown placeholder {output}", 0), 0u) << message(b);
  b = t;
  b.feedback_without_code = "again";
  EXPECT_EQ(message(b).rfind("feedback_without_code: ", 0), 0u) << message(b);
}

TEST(MethodTemplateTest, JsonRoundTripAndVersion) {
  MethodTemplate t = Cot();
  t.code = CodeMode::kNever;
  t.turns = 2;
  t.feedback = "Output: {output}";
  t.description = "mine";
  Result<MethodTemplate> back = MethodTemplateFromJson(MethodTemplateJson(t));
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(MethodTemplateJson(*back), MethodTemplateJson(t));
  EXPECT_EQ(MethodTemplateVersion(*back), MethodTemplateVersion(t));
  EXPECT_EQ(MethodTemplateVersion(t).rfind("t1-", 0), 0u);
  // The description and the name are not part of the version; every text and setting is.
  MethodTemplate d = t;
  d.description = "other";
  d.name = "renamed";
  EXPECT_EQ(MethodTemplateVersion(d), MethodTemplateVersion(t));
  for (auto edit : std::vector<std::function<void(MethodTemplate&)>>{
           [](MethodTemplate& x) { x.prompt += " "; }, [](MethodTemplate& x) { x.system = ""; },
           [](MethodTemplate& x) { x.code = CodeMode::kExecute; },
           [](MethodTemplate& x) { x.turns = 3; }, [](MethodTemplate& x) { x.turns.reset(); },
           [](MethodTemplate& x) { x.feedback += "."; },
           [](MethodTemplate& x) { x.feedback_without_code = "x"; }}) {
    MethodTemplate e = t;
    edit(e);
    EXPECT_NE(MethodTemplateVersion(e), MethodTemplateVersion(t)) << MethodTemplateJson(e);
  }
  // Hostile JSON from the wire is refused, never trusted.
  for (const char* bad : {"", "[]", "{}", R"({"name":"x"})"}) {
    EXPECT_FALSE(MethodTemplateFromJson(bad).ok()) << bad;
  }
  nlohmann::json j = nlohmann::json::parse(MethodTemplateJson(t));
  j["prompt"] = "{secret}";
  EXPECT_FALSE(MethodTemplateFromJson(j.dump()).ok());
  j = nlohmann::json::parse(MethodTemplateJson(t));
  j["code"] = "sometimes";
  EXPECT_FALSE(MethodTemplateFromJson(j.dump()).ok());
}

TEST(MethodTemplateTest, Info) {
  MethodTemplate t = Cot();
  MethodInfo i = MethodTemplateInfo(t);
  EXPECT_EQ(i.name, "my_cot");
  EXPECT_FALSE(i.multi_turn);
  EXPECT_TRUE(i.needs_system);
  EXPECT_FALSE(i.needs_tools);
  t.feedback = "{output}";
  EXPECT_TRUE(MethodTemplateInfo(t).multi_turn);  // follows the sweep's turns
  t.turns = 2;
  EXPECT_FALSE(MethodTemplateInfo(t).multi_turn);  // fixed
  t = Cot();
  t.code = CodeMode::kTool;
  EXPECT_TRUE(MethodTemplateInfo(t).needs_tools);
  LlmCapabilities none;
  none.tools = false;
  none.system_message = false;
  EXPECT_FALSE(CheckMethodSupported(MethodTemplateInfo(t), none).ok());
}

TEST(RunMethodTemplateTest, ExecuteRendersSystemAndPromptAndRunsTheCode) {
  MethodTemplate t = Cot();
  JobSpec spec = TemplateJob(t);
  Harness h({Reply("Plan.\n" + PyBlock("print('<<<" + Truth(spec) + ">>>')"))});
  Outcome o = h.Run(spec);
  ASSERT_FALSE(o.failed) << o.error;
  ASSERT_EQ(h.transcript.requests.size(), 1u);
  const auto& m = h.transcript.requests[0].messages;
  ASSERT_EQ(m.size(), 2u);
  EXPECT_EQ(m[0].role, "system");
  EXPECT_EQ(m[0].content, "You are careful.");
  EXPECT_EQ(m[1].content, FakeInstance(spec).prompt + "\nThink step by step.");
  EXPECT_TRUE(o.correct);
  EXPECT_EQ(o.passed_by, "code");
  EXPECT_TRUE(o.code_used);
  EXPECT_TRUE(o.code_ok);
  ASSERT_EQ(o.executions.size(), 1u);
  ASSERT_EQ(o.calls.size(), 1u);
  EXPECT_EQ(o.tokens_in, 10);
  EXPECT_GT(o.cost_usd, 0);
  EXPECT_EQ(nlohmann::json::parse(o.extra_json)["method_template"], MethodTemplateVersion(t));
}

TEST(RunMethodTemplateTest, NeverRunsNoCode) {
  MethodTemplate t = Cot();
  t.system.clear();
  t.code = CodeMode::kNever;
  JobSpec spec = TemplateJob(t);
  Harness h({Reply(PyBlock("answer = \"" + Truth(spec) + "\""))});
  Outcome o = h.Run(spec);
  ASSERT_FALSE(o.failed) << o.error;
  EXPECT_TRUE(h.executor.codes.empty());
  EXPECT_TRUE(o.executions.empty());
  EXPECT_TRUE(o.code_used);        // written, not run
  EXPECT_NE(o.passed_by, "code");  // no code output to judge
  EXPECT_EQ(h.transcript.requests[0].messages.size(), 1u);
}

TEST(RunMethodTemplateTest, ToolModeUsesThePythonTool) {
  MethodTemplate t = Cot();
  t.system.clear();
  t.code = CodeMode::kTool;
  JobSpec spec = TemplateJob(t);
  const std::string args = R"x({"code":"print('<<<)x" + Truth(spec) + R"x(>>>')"})x";
  Harness h({ToolCallReply("c1", args), Reply("The answer is <<<" + Truth(spec) + ">>>")});
  Outcome o = h.Run(spec);
  ASSERT_FALSE(o.failed) << o.error;
  ASSERT_EQ(h.transcript.requests.size(), 2u);
  ASSERT_EQ(h.transcript.requests[0].tools.size(), 1u);
  EXPECT_EQ(h.transcript.requests[0].tools[0].name, "python");
  EXPECT_EQ(h.executor.codes.size(), 1u);
  EXPECT_TRUE(o.correct);
  EXPECT_EQ(nlohmann::json::parse(o.extra_json)["tool_calls"], 1);
  // A model without tool calling cannot run it.
  LlmCapabilities none;
  none.tools = false;
  Harness no_tools({Reply("x")}, none);
  Outcome refused = no_tools.Run(spec);
  EXPECT_TRUE(refused.failed);
  EXPECT_NE(refused.error.find("tool calling"), std::string::npos) << refused.error;
}

TEST(RunMethodTemplateTest, FeedbackPlaceholdersAcrossTurns) {
  MethodTemplate t;
  t.name = "refine";
  t.prompt = "{task_prompt}";
  t.feedback = "turn {turn} [{status}/{exit_code}] code={code} out={output} err={error}";
  t.feedback_without_code = "no code in: {reply}";
  JobSpec spec = TemplateJob(t, 3);
  Harness h({Reply(PyBlock("values[0]")), Reply("just text"),
             Reply("<<<" + Truth(spec) + ">>> TERMINATE")});
  Outcome o = h.Run(spec);
  ASSERT_FALSE(o.failed) << o.error;
  ASSERT_EQ(h.transcript.requests.size(), 3u);
  const auto& second = h.transcript.requests[1].messages;
  ASSERT_EQ(second.size(), 3u);
  EXPECT_EQ(second[2].content,
            "turn 2 [error/1] code=values[0] out= err=Traceback (most recent call last):\n"
            "IndexError: list index out of range");
  EXPECT_EQ(h.transcript.requests[2].messages.back().content, "no code in: just text");
  EXPECT_EQ(o.turns_used, 3);
  EXPECT_TRUE(o.correct);
  EXPECT_EQ(o.passed_by, "reply");
  ASSERT_EQ(o.calls.size(), 3u);
  EXPECT_EQ(o.calls[2].turn, 2);
}

TEST(RunMethodTemplateTest, FixedTurnsOverrideTheCell) {
  MethodTemplate t;
  t.name = "two";
  t.prompt = "{task_prompt}";
  t.turns = 2;
  t.feedback = "Again: {output}";
  JobSpec spec = TemplateJob(t, 5);
  Harness h({Reply("a"), Reply("b"), Reply("c")});
  Outcome o = h.Run(spec);
  ASSERT_FALSE(o.failed) << o.error;
  EXPECT_EQ(h.transcript.requests.size(), 2u);
}

TEST(RunMethodTemplateTest, BadDefinitionFailsTheCellWithoutRetry) {
  JobSpec spec = FakeJob("x");
  spec.method_json = "{not json";
  Harness h({Reply("a")});
  Outcome o = h.Run(spec);
  EXPECT_TRUE(o.failed);
  EXPECT_FALSE(o.retryable);
  EXPECT_TRUE(h.transcript.requests.empty());
  MethodTemplate t = Cot();
  spec = TemplateJob(t);
  spec.method = "other";  // the definition must be the named method's
  o = h.Run(spec);
  EXPECT_TRUE(o.failed);
}

// all_code written as a template sends byte-identical requests (so shares call keys) to the
// built-in, on one turn and on refinement turns with and without code.
TEST(RunMethodTemplateTest, AllCodeAsATemplateMatchesTheBuiltIn) {
  MethodTemplate t;
  t.name = "all_code_tmpl";
  t.prompt = std::string(prompts::kAllCode) + "\n\n{task_prompt}";
  t.feedback = "The execution result from the generated code is:\n{execution}\n" +
               std::string(prompts::kRefineWithCode);
  t.feedback_without_code = std::string(prompts::kRefineWithoutCode);
  ASSERT_TRUE(CheckMethodTemplate(t).ok()) << CheckMethodTemplate(t).message();
  std::vector<Result<LlmResponse>> script = {Reply(PyBlock("values[0]")), Reply("no code"),
                                             Reply(PyBlock("while True: pass")), Reply("done")};
  Harness builtin(script), declared(script);
  Outcome a = builtin.Run(FakeJob("all_code", 4));
  Outcome b = declared.Run(TemplateJob(t, 4));
  ASSERT_FALSE(a.failed) << a.error;
  ASSERT_FALSE(b.failed) << b.error;
  ASSERT_EQ(builtin.transcript.requests.size(), 4u);
  ASSERT_EQ(declared.transcript.requests.size(), 4u);
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(CanonicalRequestJson(builtin.transcript.requests[i]),
              CanonicalRequestJson(declared.transcript.requests[i]))
        << "request " << i;
    EXPECT_EQ(a.calls[i].call_key, b.calls[i].call_key);
  }
  EXPECT_EQ(a.executions.size(), b.executions.size());
  EXPECT_EQ(a.turns_used, b.turns_used);
}

}  // namespace
}  // namespace codesweep
