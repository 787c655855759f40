// Golden transcripts: for each method, the exact sequence of requests (canonical JSON) and
// executed programs for a fixed script, checked into tests/unit/methods/golden/<method>.json.
// A prompt or loop change shows up here as a diff. To accept a deliberate change, run the test
// with CODESWEEP_UPDATE_GOLDEN=1 and review the diff (and check that prompt_version changed).
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "jobs/methods/method.h"
#include "tests/unit/methods/fakes.h"

namespace codesweep {
namespace {

using namespace codesweep::testing;  // NOLINT
using nlohmann::json;

std::vector<Result<LlmResponse>> ScriptFor(const std::string& method) {
  const std::string code_reply = "Plan: add.\n" + PyBlock("print('<<<1>>>')");
  if (method == "code_interpreter" || method == "code_interpreter_plus") {
    return {ToolCallReply("call_1", R"js({"code":"print('<<<1>>>')"})js"), Reply("<<<1>>>")};
  }
  if (method == "code_text_sum") {
    return {Reply("<<<1>>>"), Reply(PyBlock("print('<<<2>>>')")), Reply("<<<3>>>")};
  }
  if (method == "self_estimate") return {Reply("Code score: 8\nText score: 4"), Reply(code_reply)};
  return {Reply(code_reply), Reply("<<<1>>>\nTERMINATE")};
}

json Transcript(const std::string& method) {
  auto registry = FakeRegistry();
  FakeExecutor executor;
  FakeClock clock;
  testing::Transcript transcript;
  RunnerDeps deps;
  deps.tasks = registry.get();
  deps.executor = &executor;
  deps.clock = &clock;
  auto script = ScriptFor(method);
  deps.make_client = [&](const JobSpec&, const Task&,
                         const Instance&) -> Result<std::unique_ptr<LlmClient>> {
    return std::unique_ptr<LlmClient>(new ScriptedClient(script, &transcript));
  };
  const MethodInfo* info = FindMethod(method);
  Outcome o = RunJob(FakeJob(method, info->multi_turn ? 2 : 1), deps);
  EXPECT_FALSE(o.failed) << o.error;
  json t = {{"method", method}, {"requests", json::array()}, {"executed", executor.codes}};
  for (const CallRecord& c : o.calls) t["requests"].push_back(json::parse(c.request_json));
  return t;
}

std::string GoldenPath(const std::string& method) {
  return std::string(CODESWEEP_SOURCE_DIR) + "/tests/unit/methods/golden/" + method + ".json";
}

TEST(GoldenTest, EveryMethodMatchesItsTranscript) {
  const bool update = std::getenv("CODESWEEP_UPDATE_GOLDEN") != nullptr;
  for (const MethodInfo& m : AllMethods()) {
    SCOPED_TRACE(m.name);
    json actual = Transcript(m.name);
    if (update) {
      std::ofstream(GoldenPath(m.name)) << actual.dump(2) << "\n";
      continue;
    }
    std::ifstream in(GoldenPath(m.name));
    ASSERT_TRUE(in.good()) << "missing " << GoldenPath(m.name);
    std::stringstream ss;
    ss << in.rdbuf();
    json expected = json::parse(ss.str(), nullptr, false);
    ASSERT_FALSE(expected.is_discarded());
    EXPECT_EQ(actual, expected) << "actual transcript:\n" << actual.dump(2);
  }
}

}  // namespace
}  // namespace codesweep
