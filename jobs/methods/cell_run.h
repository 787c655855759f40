// CellRun: the state of one job while its method runs (internal to jobs/methods). It makes every
// LLM call and code execution on the method's behalf and records them in the Outcome, in order,
// with tokens and cost. Owned by RunJob on the slot thread that runs the job; not shared.
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "jobs/llm/llm_client.h"
#include "jobs/sandbox/executor.h"
#include "jobs/tasks/task.h"
#include "schema/types.h"

namespace codesweep {

class CellRun {
 public:
  CellRun(const JobSpec& spec, const Task& task, const Instance& instance, LlmClient& client,
          Executor& executor, const ExecLimits& limits, Outcome& outcome)
      : spec_(spec),
        task_(task),
        instance_(instance),
        client_(client),
        executor_(executor),
        limits_(limits),
        outcome_(outcome) {}

  const JobSpec& spec() const { return spec_; }
  const Task& task() const { return task_; }
  const Instance& instance() const { return instance_; }
  const ExecLimits& limits() const { return limits_; }
  LlmCapabilities capabilities() const { return client_.capabilities(); }
  // Method-specific facts, written to Outcome::extra_json at the end.
  nlohmann::json& extra() { return extra_; }

  // A request with the job's generation settings and the given messages.
  LlmRequest NewRequest(std::vector<ChatMessage> messages) const;
  // Makes one call and records it (also when it fails). `turn` is the method's turn index.
  Result<LlmResponse> Call(const LlmRequest& request, int turn);
  // Runs code in the sandbox and records the execution. A failure to run at all (the sandbox is
  // broken) is returned as a transient error.
  Result<ExecResult> Execute(const std::string& code, int turn);
  // Notes that the model wrote code (even if it was never executed).
  void MarkCodeUsed() { outcome_.code_used = true; }
  void NoteTurn(int turn) { outcome_.turns_used = std::max(outcome_.turns_used, turn + 1); }

  // Writes extra() into the outcome.
  void Finish();

 private:
  const JobSpec& spec_;
  const Task& task_;
  const Instance& instance_;
  LlmClient& client_;
  Executor& executor_;
  ExecLimits limits_;
  Outcome& outcome_;
  nlohmann::json extra_ = nlohmann::json::object();
};

// What a method hands back for judging (PAPER.md §2.3): the final reply, and the output of the
// code executed for the final answer, if any.
struct FinalAnswer {
  std::string reply;
  std::optional<std::string> code_output;
};

// One turn of a turn loop, as its feedback sees it.
struct TurnResult {
  int turn = 0;  // 0-based
  const LlmResponse& reply;
  const std::optional<ExecResult>& exec;  // the block executed this turn, if any
};

// The refinement loop of PAPER.md §3.3 that the single-prompt methods 1-6 and declared methods
// share: call, execute the reply's first Python block (when `execute`), and until the turn cap
// (spec().turns) or a TERMINATE, send `feedback` of the turn as the next user message.
struct TurnLoopSpec {
  std::vector<ChatMessage> initial;
  bool execute = true;  // false: code blocks are noted (code_used) but never run
  std::function<std::string(const TurnResult&)> feedback;
};
Result<FinalAnswer> RunTurnLoop(CellRun& run, const TurnLoopSpec& spec);
// The tool loop of methods 7-8 from the given first messages: one `python` function tool run in
// the sandbox, capped executions, recorded in extra() as tool_calls / invalid_tool_calls.
Result<FinalAnswer> RunToolLoop(CellRun& run, std::vector<ChatMessage> messages);

// A declared method (method_template.h): its rendered templates through RunTurnLoop or
// RunToolLoop.
struct MethodTemplate;
Result<FinalAnswer> RunMethodTemplate(CellRun& run, const MethodTemplate& t);

// The method implementations (one per MethodInfo in AllMethods()).
using MethodFn = Result<FinalAnswer> (*)(CellRun& run);
MethodFn FindMethodFn(std::string_view name);

// Shared steps.
// The first-turn messages of the single-call methods 1-6 (only_question ... autogen_system);
// code_text_sum and self_estimate reuse all_text's and all_code_cot's byte for byte.
std::vector<ChatMessage> InitialMessages(std::string_view method, const Instance& instance);
// Executes block 0 of `reply` if it has one; returns its stdout (nullopt if no code).
Result<std::optional<ExecResult>> ExecuteFirstBlock(CellRun& run, const std::string& reply,
                                                    int turn);
// "output: ...\nerrors: ..." of an execution, bounded in size, with a note on timeouts/limits.
std::string DescribeExecution(const ExecResult& result, const ExecLimits& limits);
// Bounds a stream fed back to the model (4,000 bytes, cut at a UTF-8 boundary, with a note).
std::string BoundedFeedback(std::string s);
ChatMessage UserMessage(std::string content);
ChatMessage SystemMessage(std::string content);
ChatMessage AssistantMessage(const LlmResponse& response);

}  // namespace codesweep
