// RunJob end to end against the sim model (through the default client factory) with the fake
// executor: every method runs, results are deterministic, and the correctness rate follows p.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "jobs/methods/client_factory.h"
#include "tests/unit/methods/fakes.h"

namespace codesweep {
namespace {

using namespace codesweep::testing;  // NOLINT

JobSpec SimJob(const std::string& method, int64_t sample, const std::string& options) {
  JobSpec s = FakeJob(method, 1, sample);
  s.model.id = "sim:default";
  s.model.provider = "sim";
  s.model.name = "default";
  s.model.options_json = options;
  return s;
}

struct SimHarness {
  Outcome Run(const JobSpec& spec) {
    RunnerDeps deps;
    deps.tasks = registry.get();
    deps.executor = &executor;
    deps.make_client = MakeDefaultClientFactory(ProviderEnv{}, defaults);
    return RunJob(spec, deps);
  }
  std::unique_ptr<TaskRegistry> registry = FakeRegistry();
  FakeExecutor executor;
  SimOptions defaults;
};

const char kOptions[] = R"({"p_correct":0.7,"p_correct_decay":0,"p_code":0.5,"p_hang":0})";

TEST(SimRunTest, EveryMethodRunsAndIsDeterministic) {
  for (const MethodInfo& m : AllMethods()) {
    SCOPED_TRACE(m.name);
    for (int64_t sample = 0; sample < 20; ++sample) {
      JobSpec spec = SimJob(m.name, sample, kOptions);
      if (m.multi_turn) spec.turns = 3;
      SimHarness a, b;
      Outcome oa = a.Run(spec), ob = b.Run(spec);
      ASSERT_FALSE(oa.failed) << oa.error;
      EXPECT_EQ(oa.correct, ob.correct);
      EXPECT_EQ(oa.final_answer, ob.final_answer);
      ASSERT_EQ(oa.calls.size(), ob.calls.size());
      for (size_t i = 0; i < oa.calls.size(); ++i) {
        EXPECT_EQ(oa.calls[i].response_json, ob.calls[i].response_json);
      }
      EXPECT_TRUE(oa.tokens_estimated);
      EXPECT_GT(oa.tokens_in, 0);
    }
  }
}

double CorrectRate(const std::string& method, const std::string& options, int n) {
  int correct = 0;
  for (int64_t sample = 0; sample < n; ++sample) {
    SimHarness h;
    Outcome o = h.Run(SimJob(method, sample, options));
    EXPECT_FALSE(o.failed) << o.error;
    if (o.correct) ++correct;
  }
  return static_cast<double>(correct) / n;
}

TEST(SimRunTest, CorrectnessFollowsP) {
  EXPECT_NEAR(CorrectRate("only_question", kOptions, 400), 0.7, 0.07);
  EXPECT_NEAR(CorrectRate("all_code", kOptions, 400), 0.7, 0.07);
  EXPECT_NEAR(CorrectRate("all_text", R"({"p_correct":0.2,"p_correct_decay":0})", 400), 0.2, 0.06);
}

TEST(SimRunTest, AllCodeWritesCodeAllTextDoesNot) {
  SimHarness code, text;
  for (int64_t sample = 0; sample < 10; ++sample) {
    EXPECT_TRUE(code.Run(SimJob("all_code", sample, "{}")).code_used);
    EXPECT_FALSE(text.Run(SimJob("all_text", sample, "{}")).code_used);
  }
  EXPECT_EQ(code.executor.codes.size(), 10u);
  EXPECT_TRUE(text.executor.codes.empty());
}

TEST(SimRunTest, CodeInterpreterPlusUsesTheTool) {
  SimHarness h;
  Outcome o = h.Run(SimJob("code_interpreter_plus", 3, R"({"p_correct":1})"));
  ASSERT_FALSE(o.failed) << o.error;
  EXPECT_EQ(o.calls.size(), 2u);
  EXPECT_EQ(o.executions.size(), 1u);
  EXPECT_TRUE(o.correct);
}

TEST(ClientFactoryTest, SimDefaultsAreOverlaidByModelOptions) {
  SimHarness h;
  h.defaults.p_code = 1.0;
  EXPECT_TRUE(h.Run(SimJob("only_question", 0, "{}")).code_used);
  EXPECT_FALSE(h.Run(SimJob("only_question", 0, R"({"p_code":0})")).code_used);
  Outcome bad = h.Run(SimJob("only_question", 0, R"({"p_cod":0})"));
  EXPECT_TRUE(bad.failed);
  EXPECT_FALSE(bad.retryable);
  EXPECT_NE(bad.error.find("p_cod"), std::string::npos);
}

TEST(ClientFactoryTest, CellContextHeaderNamesTheCell) {
  JobSpec s = SimJob("all_text", 5, "{}");
  s.complexity = "2";
  auto j = nlohmann::json::parse(CellContextHeader(s));
  EXPECT_EQ(j["task"], "fake_sum");
  EXPECT_EQ(j["complexity"], "2");
  EXPECT_EQ(j["sample"], 5);
  EXPECT_EQ(j["seed"], 7);
  EXPECT_EQ(j["method"], "all_text");
  EXPECT_EQ(j.size(), 5u);
}

}  // namespace
}  // namespace codesweep
