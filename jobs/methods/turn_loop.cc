// Methods 1-6 (only_question, all_text, all_code, all_code_cot, autogen_concat, autogen_system):
// one prompt, the reply's first Python block executed, and with turns > 1 the refinement loop of
// PAPER.md §3.3: feed back the execution result (or the previous answer), stop on TERMINATE or
// at the turn cap.
#include <algorithm>

#include "jobs/methods/cell_run.h"
#include "jobs/methods/extract.h"
#include "jobs/methods/prompts.h"

namespace codesweep {

namespace {

constexpr int kMaxTurns = 16;

std::string Prefixed(std::string_view instruction, const std::string& question) {
  return std::string(instruction) + "\n\n" + question;
}

// The user message that follows a turn: the execution result and the with-code prompt, or the
// without-code prompt when the reply had no code.
std::string Feedback(const std::optional<ExecResult>& exec, const ExecLimits& limits) {
  if (!exec) return std::string(prompts::kRefineWithoutCode);
  return "The execution result from the generated code is:\n" + DescribeExecution(*exec, limits) +
         "\n" + std::string(prompts::kRefineWithCode);
}

}  // namespace

Result<FinalAnswer> RunTurnLoop(CellRun& run, const TurnLoopSpec& spec) {
  std::vector<ChatMessage> messages = spec.initial;
  const int turns = std::clamp(run.spec().turns, 1, kMaxTurns);
  FinalAnswer final;
  for (int turn = 0; turn < turns; ++turn) {
    CS_ASSIGN_OR_RETURN(LlmResponse reply, run.Call(run.NewRequest(messages), turn));
    std::optional<ExecResult> exec;
    if (spec.execute) {
      CS_ASSIGN_OR_RETURN(exec, ExecuteFirstBlock(run, reply.content, turn));
    } else if (!ExtractCodeBlocks(reply.content).empty()) {
      run.MarkCodeUsed();  // written, never run
    }
    final.reply = reply.content;
    // The code candidate is the output of the latest code run in the trajectory (a closing
    // "TERMINATE" reply usually restates rather than re-runs it).
    if (exec) final.code_output = exec->stdout_text;
    if (turn + 1 == turns) break;
    if (SaysTerminate(reply.content)) {
      run.extra()["terminated"] = true;
      break;
    }
    messages.push_back(AssistantMessage(reply));
    messages.push_back(UserMessage(spec.feedback(TurnResult{turn, reply, exec})));
  }
  return final;
}

std::vector<ChatMessage> InitialMessages(std::string_view method, const Instance& instance) {
  const std::string& q = instance.prompt;
  if (method == "all_text") return {UserMessage(Prefixed(prompts::kAllText, q))};
  if (method == "all_code") return {UserMessage(Prefixed(prompts::kAllCode, q))};
  if (method == "all_code_cot") return {UserMessage(Prefixed(prompts::kAllCodeCot, q))};
  if (method == "autogen_concat") return {UserMessage(Prefixed(prompts::kAutoGen, q))};
  if (method == "autogen_system") {
    return {SystemMessage(std::string(prompts::kAutoGen)), UserMessage(q)};
  }
  return {UserMessage(q)};  // only_question
}

Result<FinalAnswer> RunTurnLoopMethod(CellRun& run) {
  TurnLoopSpec spec;
  spec.initial = InitialMessages(run.spec().method, run.instance());
  spec.feedback = [&run](const TurnResult& t) { return Feedback(t.exec, run.limits()); };
  return RunTurnLoop(run, spec);
}

}  // namespace codesweep
