// The steering methods of the paper (PAPER.md §3), each a small turn loop over LlmClient and
// Executor. Methods are stateless; RunJob may be called from many slot threads at once.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/clock.h"
#include "jobs/llm/llm_client.h"
#include "jobs/sandbox/executor.h"
#include "jobs/tasks/task.h"
#include "schema/types.h"

namespace codesweep {

struct MethodInfo {
  std::string name;            // as written in sweep files: "only_question", ...
  std::string prompt_version;  // changes whenever the method's prompts change (part of cell key)
  bool multi_turn = false;     // accepts turns > 1
  bool needs_tools = false;    // requires a model with tool calling
  bool needs_system = false;   // sends a system message (autogen_system, declared methods)
  std::string description;
};

const std::vector<MethodInfo>& AllMethods();
const MethodInfo* FindMethod(std::string_view name);  // nullptr if unknown

// OK if a model with these capabilities can run the method: the Code Interpreter methods need
// tool calling, autogen_system (and declared methods with a system template) a system role. For
// sweep validation (before anything runs) and again in RunJob.
Status CheckMethodSupported(const MethodInfo& method, const LlmCapabilities& capabilities);

// Makes the LlmClient for one job. The worker supplies one that routes metered providers through
// the coordinator (rate limit and call cache); tests supply fakes.
using LlmClientFactory = std::function<Result<std::unique_ptr<LlmClient>>(
    const JobSpec& spec, const Task& task, const Instance& instance)>;

struct RunnerDeps {
  const TaskRegistry* tasks = nullptr;
  Executor* executor = nullptr;
  LlmClientFactory make_client;
  const Clock* clock = nullptr;
};

// Runs one cell: generate the instance, run the method's turn loop, check the candidates
// (code output and raw reply; correct if either passes), and fill in the Outcome.
// Never throws; infrastructure errors come back as outcome.failed with retryable set.
Outcome RunJob(const JobSpec& spec, const RunnerDeps& deps);

// Judges `answer` (a whole reply) for a job of a declared task (spec.task_def and spec.task_row
// set, as dispatch sets them) the way RunJob judges a cell's reply: the task's extractors, then
// its rule-based, Python (run by deps.executor) or LLM-judge scorer (a call through
// deps.make_client, recorded in out.calls). Fills out's verdict fields (correct, score,
// final_answer, verdict_reason, answer_source, extra_json). A scorer's failure is a verdict; an
// error is a malformed job or a sandbox or judge model that could not be used at all.
// `codesweep tasks check` uses it.
Status JudgeDeclaredAnswer(const JobSpec& spec, std::string_view answer, const RunnerDeps& deps,
                           Outcome& out);

}  // namespace codesweep
