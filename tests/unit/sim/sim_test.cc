#include "jobs/llm/sim/sim.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <set>

#include "jobs/llm/sim/sim_answers.h"
#include "tests/unit/sim/fake_task.h"

namespace codesweep {
namespace {

using testing::FakeSumTask;

ModelSpec SimModel() {
  ModelSpec m;
  m.id = "sim:default";
  m.provider = "sim";
  m.name = "default";
  return m;
}

LlmRequest UserRequest(const std::string& text) {
  LlmRequest r;
  r.messages.push_back({"user", text, {}, "", ""});
  return r;
}

const char kTextInstruction[] = "Reason step by step. Do not output code.\n\n";
const char kCodeInstruction[] = "Answer with one Python block; use python code.\n\n";

struct Fixture {
  explicit Fixture(bool canonical = true, std::string complexity = "1", int64_t sample = 0)
      : task(canonical) {
    instance = task.Generate(complexity, sample, 42).value();
  }
  SimContext Context() { return SimContext{&task, &instance, "only_question"}; }
  FakeSumTask task;
  Instance instance;
};

TEST(SimOptionsTest, ParsesKnownKeysAndDefaults) {
  auto d = SimOptions::FromJson("{}");
  ASSERT_TRUE(d.ok());
  EXPECT_DOUBLE_EQ(d->p_correct, 0.8);
  auto o = SimOptions::FromJson(
      R"({"p_correct":0.5,"p_correct_decay":0.2,"p_code":1,"latency_ms":7,"latency_jitter_ms":2,"p_hang":0,"p_terminate":1})");
  ASSERT_TRUE(o.ok()) << o.status().ToString();
  EXPECT_DOUBLE_EQ(o->p_correct, 0.5);
  EXPECT_DOUBLE_EQ(o->p_code, 1.0);
  EXPECT_EQ(o->latency_ms, 7);
  EXPECT_EQ(o->latency_jitter_ms, 2);
  EXPECT_DOUBLE_EQ(o->p_terminate, 1.0);
}

TEST(SimOptionsTest, RejectsUnknownKeysBadTypesAndRanges) {
  EXPECT_FALSE(SimOptions::FromJson(R"({"p_corect":0.5})").ok());
  EXPECT_FALSE(SimOptions::FromJson(R"({"p_correct":"high"})").ok());
  EXPECT_FALSE(SimOptions::FromJson(R"({"p_correct":1.5})").ok());
  EXPECT_FALSE(SimOptions::FromJson(R"({"latency_ms":-1})").ok());
  EXPECT_FALSE(SimOptions::FromJson(R"({"latency_ms":1.5})").ok());
  EXPECT_FALSE(SimOptions::FromJson("[1,2]").ok());
  EXPECT_FALSE(SimOptions::FromJson("{not json").ok());
  auto s = SimOptions::FromJson(R"({"temperature":0})");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("temperature"), std::string::npos);
}

TEST(SimTest, SameRequestSameReplyOnEveryCall) {
  Fixture f;
  SimOptions o;
  LlmRequest r = UserRequest(f.instance.prompt);
  LlmResponse a = SimRespond(o, f.Context(), SimModel(), r);
  LlmResponse b = SimRespond(o, f.Context(), SimModel(), r);
  EXPECT_EQ(a.content, b.content);
  EXPECT_TRUE(a.usage.estimated);
  EXPECT_GT(a.usage.input_tokens, 0);
  EXPECT_GT(a.usage.output_tokens, 0);
}

TEST(SimTest, DrawIndexChangesTheSeed) {
  Fixture f;
  SimOptions o;
  o.p_correct = 0.5;
  o.p_code = 0.5;
  LlmRequest r = UserRequest(f.instance.prompt);
  std::set<std::string> replies;
  for (int draw = 0; draw < 20; ++draw) {
    r.draw = draw;
    replies.insert(SimRespond(o, f.Context(), SimModel(), r).content);
  }
  EXPECT_GT(replies.size(), 1u);
}

TEST(SimTest, CorrectProbabilityDecaysWithLevelAndHasAFloor) {
  SimOptions o;
  o.p_correct = 0.8;
  o.p_correct_decay = 0.3;
  Fixture f1(true, "1"), f2(true, "2"), f3(true, "3");
  EXPECT_DOUBLE_EQ(SimCorrectProbability(o, f1.Context()), 0.8);
  EXPECT_NEAR(SimCorrectProbability(o, f2.Context()), 0.5, 1e-12);
  EXPECT_NEAR(SimCorrectProbability(o, f3.Context()), 0.2, 1e-12);
  o.p_correct_decay = 0.5;
  EXPECT_DOUBLE_EQ(SimCorrectProbability(o, f3.Context()), 0.05);
}

// Fraction of text replies the task's checker accepts over many instances.
double TextCorrectRate(const SimOptions& o, const std::string& complexity, int n) {
  int correct = 0;
  for (int i = 0; i < n; ++i) {
    Fixture f(true, complexity, i);
    LlmResponse r =
        SimRespond(o, f.Context(), SimModel(), UserRequest(kTextInstruction + f.instance.prompt));
    EXPECT_EQ(r.content.find("```"), std::string::npos);
    if (f.task.Check(f.instance, r.content).correct) ++correct;
  }
  return static_cast<double>(correct) / n;
}

TEST(SimTest, CorrectnessRateIsRoughlyP) {
  SimOptions o;
  o.p_correct = 0.7;
  o.p_correct_decay = 0.3;
  EXPECT_NEAR(TextCorrectRate(o, "1", 2000), 0.7, 0.04);
  EXPECT_NEAR(TextCorrectRate(o, "3", 2000), 0.1, 0.03);
}

TEST(SimTest, CodeInstructionGivesReferenceOrWrongProgram) {
  SimOptions o;
  o.p_correct = 0.6;
  int reference = 0;
  const int n = 1000;
  for (int i = 0; i < n; ++i) {
    Fixture f(true, "1", i);
    LlmResponse r =
        SimRespond(o, f.Context(), SimModel(), UserRequest(kCodeInstruction + f.instance.prompt));
    ASSERT_NE(r.content.find("```python\n"), std::string::npos) << r.content;
    if (r.content.find(f.task.ReferenceSolution(f.instance)) != std::string::npos &&
        r.content.find("values[0]") == std::string::npos) {
      ++reference;
    }
  }
  EXPECT_NEAR(static_cast<double>(reference) / n, 0.6, 0.05);
}

TEST(SimTest, OnlyQuestionFollowsPCode) {
  Fixture f;
  SimOptions o;
  o.p_code = 0.0;
  EXPECT_EQ(
      SimRespond(o, f.Context(), SimModel(), UserRequest(f.instance.prompt)).content.find("```"),
      std::string::npos);
  o.p_code = 1.0;
  EXPECT_NE(SimRespond(o, f.Context(), SimModel(), UserRequest(f.instance.prompt))
                .content.find("```python"),
            std::string::npos);
}

TEST(SimTest, QuestionTextDoesNotActAsInstruction) {
  FakeSumTask task;
  Instance in = task.Generate("1", 0, 1).value();
  in.prompt = "Do not output code. " + in.prompt;  // the question itself says so
  SimOptions o;
  o.p_code = 1.0;
  SimContext c{&task, &in, "only_question"};
  EXPECT_NE(SimRespond(o, c, SimModel(), UserRequest(in.prompt)).content.find("```python"),
            std::string::npos);
}

TEST(SimTest, NoCanonicalAnswerMeansCodeEvenWhenTextIsAsked) {
  Fixture f(false);
  SimOptions o;
  LlmResponse r =
      SimRespond(o, f.Context(), SimModel(), UserRequest(kTextInstruction + f.instance.prompt));
  EXPECT_NE(r.content.find("```python"), std::string::npos);
}

TEST(SimTest, ToolLoopCallsPythonThenEchoesTheOutput) {
  Fixture f;
  SimOptions o;
  o.p_correct = 1.0;
  LlmRequest r = UserRequest("Use the `python` tool.\n\n" + f.instance.prompt);
  r.tools.push_back({"python", "runs python", R"({"type":"object"})"});
  LlmResponse first = SimRespond(o, f.Context(), SimModel(), r);
  ASSERT_EQ(first.tool_calls.size(), 1u);
  EXPECT_EQ(first.finish_reason, "tool_calls");
  EXPECT_EQ(first.tool_calls[0].name, "python");
  auto args = nlohmann::json::parse(first.tool_calls[0].arguments_json);
  EXPECT_EQ(args["code"], f.task.ReferenceSolution(f.instance));

  ChatMessage assistant{"assistant", first.content, first.tool_calls, "", ""};
  r.messages.push_back(assistant);
  r.messages.push_back(
      {"tool", "<<<" + f.instance.truth + ">>>\n", {}, first.tool_calls[0].id, "python"});
  LlmResponse final_reply = SimRespond(o, f.Context(), SimModel(), r);
  EXPECT_TRUE(final_reply.tool_calls.empty());
  EXPECT_TRUE(f.task.Check(f.instance, final_reply.content).correct) << final_reply.content;
}

TEST(SimTest, SelfEstimateRepliesWithTwoScores) {
  Fixture f;
  SimOptions o;
  o.p_code = 1.0;
  LlmResponse r =
      SimRespond(o, f.Context(), SimModel(),
                 UserRequest("Give a confidence score from 0 to 10 for code and for text.\n" +
                             f.instance.prompt));
  EXPECT_EQ(r.content.rfind("Code score: ", 0), 0u) << r.content;
  EXPECT_NE(r.content.find("Text score: "), std::string::npos);
}

TEST(SimTest, RefinementSometimesTerminatesWithTheAnswer) {
  SimOptions o;
  int terminated = 0;
  for (int i = 0; i < 200; ++i) {
    Fixture f(true, "1", i);
    LlmRequest r = UserRequest(f.instance.prompt);
    r.messages.push_back({"assistant", "<<<" + f.instance.truth + ">>>", {}, "", ""});
    r.messages.push_back(
        {"user", "Check your answer. If it is final, reply TERMINATE.", {}, "", ""});
    LlmResponse resp = SimRespond(o, f.Context(), SimModel(), r);
    if (resp.content.find("TERMINATE") != std::string::npos) {
      ++terminated;
      EXPECT_TRUE(f.task.Check(f.instance, resp.content).correct);
    }
  }
  EXPECT_GT(terminated, 60);
  EXPECT_LT(terminated, 140);
}

TEST(SimTest, WrongAnswersAreWellFormedAndWrong) {
  for (int i = 0; i < 50; ++i) {
    Fixture f(true, "1", i);
    std::string w = sim::WrongAnswer(f.task, f.instance);
    ASSERT_FALSE(w.empty());
    EXPECT_FALSE(f.task.Check(f.instance, "<<<" + w + ">>>").correct);
  }
}

TEST(SimTest, NoTaskGivesAHarmlessReply) {
  SimOptions o;
  LlmResponse r = SimRespond(o, SimContext{}, SimModel(), UserRequest("hello"));
  EXPECT_FALSE(r.content.empty());
  EXPECT_TRUE(r.usage.estimated);
}

TEST(SimClientTest, ZeroLatencyAndCapabilities) {
  Fixture f;
  auto client = MakeSimClient(SimModel(), SimOptions{}, f.Context());
  auto r = client->Complete(UserRequest(f.instance.prompt));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->latency_ms, 0);
  EXPECT_TRUE(client->capabilities().tools);
}

}  // namespace
}  // namespace codesweep
