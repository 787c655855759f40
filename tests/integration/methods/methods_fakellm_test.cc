// RunJob against a real fakellm process over HTTP on 127.0.0.1 (ephemeral port), with the real
// provider client and the real sandbox: scripted replay (multi-turn and the tool loop) and the
// sim answering by X-Codesweep-Cell header. Skips when the sandbox cannot start on this host.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "jobs/methods/client_factory.h"
#include "jobs/sandbox/sandbox.h"
#include "tests/integration/methods/fakellm_proc.h"

extern char** environ;

namespace codesweep {
namespace {

using nlohmann::json;
using testing::FakeLlm;
namespace fs = std::filesystem;

class MethodsFakeLlmTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto reg = TaskRegistry::Create(DefaultDataDir());
    ASSERT_TRUE(reg.ok()) << reg.status().ToString();
    registry_ = std::move(reg).value();
    if (registry_->Find("number_multiply") == nullptr) GTEST_SKIP() << "number_multiply missing";
    auto sb = MakeSandbox(SandboxOptions{}, Logger::Null());
    if (!sb.ok()) GTEST_SKIP() << "no sandbox on this host: " << sb.status().ToString();
    sandbox_ = std::move(sb).value();
    dir_ = fs::temp_directory_path() /
           ("cs_methods_it_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  JobSpec Spec(const std::string& method, int port, int turns = 1, int64_t sample = 0) {
    JobSpec s;
    s.task = "number_multiply";
    s.complexity = registry_->Find("number_multiply")->complexity_levels().front();
    s.sample = sample;
    s.seed = 11;
    s.model = ModelSpec{"openai:fake-model", "openai", "fake-model",
                        json{{"base_url", "http://127.0.0.1:" + std::to_string(port) + "/v1"},
                             {"api_key_env", "FAKE_KEY"},
                             {"cell_context_header", true}}
                            .dump()};
    s.method = method;
    s.turns = turns;
    return s;
  }

  Outcome Run(const JobSpec& spec) {
    return testing::RunWithTestKey(spec, registry_.get(), sandbox_.get());
  }

  Instance InstanceOf(const JobSpec& s) {
    return registry_->Find(s.task)->Generate(s.complexity, s.sample, s.seed).value();
  }

  std::string WriteReplay(const json& sequence) {
    std::string path = (dir_ / "replay.json").string();
    std::ofstream(path) << json{{"sequences", {{"*", sequence}}}}.dump();
    return path;
  }

  std::vector<json> Recorded() {
    std::vector<json> out;
    std::ifstream in(dir_ / "record.jsonl");
    std::string line;
    while (std::getline(in, line)) out.push_back(json::parse(line));
    return out;
  }

  std::unique_ptr<TaskRegistry> registry_;
  std::unique_ptr<Executor> sandbox_;
  fs::path dir_;
};

json AsJson(const LlmResponse& r) { return json::parse(ResponseToJson(r)); }

TEST_F(MethodsFakeLlmTest, ReplayedMultiTurnRunsRealCodeAndStopsOnTerminate) {
  JobSpec probe = Spec("all_code", 0, 4);
  Instance in = InstanceOf(probe);
  const Task& task = *registry_->Find("number_multiply");
  LlmResponse first, second, third;
  first.content = "```python\nraise ValueError('first try')\n```";
  second.content = "Fixed.\n```python\n" + task.ReferenceSolution(in) + "\n```";
  third.content = "The output is the answer.\nTERMINATE";
  std::string replay = WriteReplay({AsJson(first), AsJson(second), AsJson(third), AsJson(third)});
  FakeLlm llm({"--port", "0", "--replay", replay, "--record", (dir_ / "record.jsonl").string()});
  ASSERT_GT(llm.port(), 0);
  Outcome o = Run(Spec("all_code", llm.port(), 4));
  ASSERT_FALSE(o.failed) << o.error;
  ASSERT_EQ(o.calls.size(), 3u);
  ASSERT_EQ(o.executions.size(), 2u);
  EXPECT_EQ(o.executions[0].status, "error");
  EXPECT_NE(o.executions[0].stderr_text.find("first try"), std::string::npos);
  EXPECT_EQ(o.executions[1].status, "ok");
  EXPECT_TRUE(o.correct) << o.verdict_reason;
  EXPECT_EQ(o.passed_by, "code");
  // fakellm saw exactly our requests, in order; the error was fed back in the second one.
  std::vector<json> rec = Recorded();
  ASSERT_EQ(rec.size(), 3u);
  for (size_t i = 0; i < rec.size(); ++i) {
    EXPECT_EQ(rec[i]["request"]["messages"], json::parse(o.calls[i].request_json)["messages"]);
  }
  EXPECT_NE(rec[1]["request"]["messages"][2]["content"].get<std::string>().find("first try"),
            std::string::npos);
}

TEST_F(MethodsFakeLlmTest, ReplayedToolLoopExecutesInTheSandbox) {
  JobSpec probe = Spec("code_interpreter", 0);
  Instance in = InstanceOf(probe);
  LlmResponse call, done;
  call.tool_calls.push_back(
      ToolCall{"call_1", "python",
               json{{"code", registry_->Find("number_multiply")->ReferenceSolution(in)}}.dump()});
  done.content = "Done; see the tool output.";
  std::string replay = WriteReplay({AsJson(call), AsJson(done)});
  FakeLlm llm({"--port", "0", "--replay", replay, "--record", (dir_ / "record.jsonl").string()});
  ASSERT_GT(llm.port(), 0);
  Outcome o = Run(Spec("code_interpreter", llm.port()));
  ASSERT_FALSE(o.failed) << o.error;
  ASSERT_EQ(o.calls.size(), 2u);
  ASSERT_EQ(o.executions.size(), 1u);
  EXPECT_EQ(o.executions[0].status, "ok");
  EXPECT_TRUE(o.correct);
  EXPECT_EQ(o.passed_by, "code");
  std::vector<json> rec = Recorded();
  ASSERT_EQ(rec.size(), 2u);
  const json& msgs = rec[1]["request"]["messages"];
  ASSERT_EQ(msgs.size(), 3u);
  EXPECT_EQ(msgs[2]["role"], "tool");
  EXPECT_NE(msgs[2]["content"].get<std::string>().find(
                in.canonical_answer.empty() ? std::string("output:") : in.canonical_answer),
            std::string::npos);
}

TEST_F(MethodsFakeLlmTest, SimAnswersThroughTheCellHeader) {
  FakeLlm llm({"--port", "0", "--data-dir", DefaultDataDir(), "--sim-options",
               R"({"p_correct":1,"p_code":1,"p_correct_decay":0})"});
  ASSERT_GT(llm.port(), 0);
  for (int64_t sample = 0; sample < 3; ++sample) {
    Outcome o = Run(Spec("only_question", llm.port(), 1, sample));
    ASSERT_FALSE(o.failed) << o.error;
    EXPECT_TRUE(o.code_used);
    EXPECT_TRUE(o.code_ok);
    EXPECT_TRUE(o.correct) << o.verdict_reason;
    EXPECT_EQ(o.passed_by, "code");
  }
}

}  // namespace
}  // namespace codesweep
