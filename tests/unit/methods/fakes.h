// Test doubles for the methods tests: a scripted LlmClient that replays a list of replies and
// records the requests it saw, and a fake Executor that "runs" the few program shapes the tests
// and the sim model produce (no processes). Used by one test thread at a time.
#pragma once

#include <functional>
#include <memory>
#include <regex>
#include <string>
#include <vector>

#include "jobs/llm/sim/sim.h"
#include "jobs/methods/method.h"
#include "tests/unit/sim/fake_task.h"

namespace codesweep::testing {

// Shared log of what a ScriptedClient saw (the client itself is owned by RunJob).
struct Transcript {
  std::vector<LlmRequest> requests;
};

class ScriptedClient final : public LlmClient {
 public:
  ScriptedClient(std::vector<Result<LlmResponse>> script, Transcript* transcript,
                 LlmCapabilities caps = {})
      : script_(std::move(script)), transcript_(transcript), caps_(caps) {}

  Result<LlmResponse> Complete(const LlmRequest& request) override {
    transcript_->requests.push_back(request);
    if (script_.empty()) return Status::Internal("script exhausted");
    if (next_ >= script_.size()) return script_.back();  // repeat the last entry forever
    return script_[next_++];
  }
  LlmCapabilities capabilities() const override { return caps_; }

 private:
  std::vector<Result<LlmResponse>> script_;
  size_t next_ = 0;
  Transcript* transcript_;
  LlmCapabilities caps_;
};

inline LlmResponse Reply(std::string content, int64_t in = 10, int64_t out = 5) {
  LlmResponse r;
  r.content = std::move(content);
  r.finish_reason = "stop";
  r.usage.input_tokens = in;
  r.usage.output_tokens = out;
  r.cost_usd = 0.001;
  return r;
}

inline LlmResponse ToolCallReply(std::string id, std::string args_json,
                                 std::string name = "python") {
  LlmResponse r;
  r.finish_reason = "tool_calls";
  r.tool_calls.push_back(ToolCall{std::move(id), std::move(name), std::move(args_json)});
  r.usage.input_tokens = 20;
  r.usage.output_tokens = 8;
  return r;
}

inline std::string PyBlock(const std::string& code) { return "```python\n" + code + "\n```"; }

// Interprets: "print('<<<X>>>')", the sum task's reference program, "values[0]" (IndexError),
// "while True" (timeout), "raise" (error); anything else prints nothing.
class FakeExecutor final : public Executor {
 public:
  Result<ExecResult> Run(const ExecRequest& request) override {
    codes.push_back(request.code);
    if (fail_with) return *fail_with;
    ExecResult r;
    r.tier = "fake";
    const std::string& c = request.code;
    std::smatch m;
    if (c.find("while True") != std::string::npos) {
      r.status = ExecStatus::kTimeout;
      r.stdout_text = "partial";
      r.wall_ms = request.limits.wall_ms;
    } else if (c.find("values[0]") != std::string::npos || c.find("raise") != std::string::npos) {
      r.status = ExecStatus::kError;
      r.exit_code = 1;
      r.stderr_text = "Traceback (most recent call last):\nIndexError: list index out of range\n";
    } else if (std::regex_search(c, m, std::regex(R"(a = (\d+)\nb = (\d+)\nprint)"))) {
      r.stdout_text = "<<<" + std::to_string(std::stoll(m[1]) + std::stoll(m[2])) + ">>>\n";
    } else if (std::regex_search(c, m, std::regex(R"re(answer = "([^"]*)")re"))) {
      r.stdout_text = "<<<" + m[1].str() + ">>>\n";
    } else if (std::regex_search(c, m, std::regex(R"(print\('(<<<[^']*>>>)'\))"))) {
      r.stdout_text = m[1].str() + "\n";
    }
    return r;
  }
  std::vector<std::string> codes;
  std::optional<Status> fail_with;
};

// A registry holding one FakeSumTask, and a JobSpec for it.
inline std::unique_ptr<TaskRegistry> FakeRegistry(bool canonical = true) {
  auto reg = std::make_unique<TaskRegistry>();
  reg->Add(std::make_unique<FakeSumTask>(canonical));
  return reg;
}

inline JobSpec FakeJob(std::string method, int turns = 1, int64_t sample = 0) {
  JobSpec s;
  s.task = "fake_sum";
  s.complexity = "1";
  s.sample = sample;
  s.seed = 7;
  s.model.id = "test:scripted";
  s.model.provider = "test";
  s.model.name = "scripted";
  s.method = std::move(method);
  s.turns = turns;
  return s;
}

// The truth of the fake job's instance.
inline Instance FakeInstance(const JobSpec& s) {
  return FakeSumTask().Generate(s.complexity, s.sample, s.seed).value();
}

// Runs one job through RunJob against a script; keeps the transcript and executor for inspection.
struct RunJobHarness {
  explicit RunJobHarness(std::vector<Result<LlmResponse>> s, LlmCapabilities caps = {})
      : script(std::move(s)), caps(caps), registry(FakeRegistry()) {}

  Outcome Run(const JobSpec& spec) {
    RunnerDeps deps;
    deps.tasks = registry.get();
    deps.executor = &executor;
    deps.clock = &clock;
    deps.make_client = [this](const JobSpec&, const Task&,
                              const Instance&) -> Result<std::unique_ptr<LlmClient>> {
      return std::unique_ptr<LlmClient>(new ScriptedClient(script, &transcript, caps));
    };
    return RunJob(spec, deps);
  }

  std::vector<Result<LlmResponse>> script;
  LlmCapabilities caps;
  std::unique_ptr<TaskRegistry> registry;
  FakeExecutor executor;
  FakeClock clock;
  Transcript transcript;
};

}  // namespace codesweep::testing
