// Methods 9-10, the paper's proposals that combine modes:
// code_text_sum: the All Text and All Code + CoT calls (byte-identical to methods 2 and 4, so the
// call cache shares them), each with its code executed, then a summarizer call (PAPER.md §3.2).
// self_estimate: a scoring call (code vs. text confidence, 0-10), then the chosen mode's call,
// again identical to method 4 (code) or 2 (text).
#include "jobs/methods/cell_run.h"
#include "jobs/methods/extract.h"
#include "jobs/methods/prompts.h"

namespace codesweep {

namespace {

struct AgentAnswer {
  std::string reply;
  std::optional<ExecResult> exec;
};

Result<AgentAnswer> RunAgent(CellRun& run, std::string_view method, int turn) {
  LlmRequest request = run.NewRequest(InitialMessages(method, run.instance()));
  CS_ASSIGN_OR_RETURN(LlmResponse reply, run.Call(request, turn));
  CS_ASSIGN_OR_RETURN(std::optional<ExecResult> exec, ExecuteFirstBlock(run, reply.content, turn));
  return AgentAnswer{reply.content, std::move(exec)};
}

std::string AgentSection(int n, const AgentAnswer& a, const ExecLimits& limits) {
  std::string agent = "Agent " + std::to_string(n);
  std::string s = agent + "'s response:\n" + a.reply + "\n\n";
  if (a.exec) {
    s += "The execution result of " + agent + "'s code:\n" + DescribeExecution(*a.exec, limits) +
         "\n";
  }
  return s;
}

Result<FinalAnswer> CodeTextSum(CellRun& run) {
  CS_ASSIGN_OR_RETURN(AgentAnswer text, RunAgent(run, "all_text", 0));
  CS_ASSIGN_OR_RETURN(AgentAnswer code, RunAgent(run, "all_code_cot", 1));
  std::string prompt = std::string(prompts::kSummarizer) + "\n\nThe input question is:\n" +
                       run.instance().prompt + "\n\n" + AgentSection(1, text, run.limits()) +
                       AgentSection(2, code, run.limits()) + std::string(prompts::kSummarizerClose);
  CS_ASSIGN_OR_RETURN(LlmResponse reply, run.Call(run.NewRequest({UserMessage(prompt)}), 2));
  CS_ASSIGN_OR_RETURN(std::optional<ExecResult> exec, ExecuteFirstBlock(run, reply.content, 2));
  FinalAnswer final;
  final.reply = reply.content;
  if (exec) final.code_output = exec->stdout_text;
  return final;
}

Result<FinalAnswer> SelfEstimate(CellRun& run) {
  std::string prompt = std::string(prompts::kSelfEstimate) + "\n\n" + run.instance().prompt;
  CS_ASSIGN_OR_RETURN(LlmResponse scores_reply, run.Call(run.NewRequest({UserMessage(prompt)}), 0));
  SelfEstimateScores scores = ParseSelfEstimate(scores_reply.content);
  // Ties and unreadable scores go to code: the paper's tasks are all solvable by code.
  bool use_code = !scores.code || !scores.text || *scores.code >= *scores.text;
  nlohmann::json& extra = run.extra();
  extra["code_score"] = scores.code ? nlohmann::json(*scores.code) : nlohmann::json(nullptr);
  extra["text_score"] = scores.text ? nlohmann::json(*scores.text) : nlohmann::json(nullptr);
  extra["scores_parsed"] = scores.code.has_value() && scores.text.has_value();
  extra["choice"] = use_code ? "code" : "text";
  CS_ASSIGN_OR_RETURN(AgentAnswer answer, RunAgent(run, use_code ? "all_code_cot" : "all_text", 1));
  FinalAnswer final;
  final.reply = answer.reply;
  if (answer.exec) final.code_output = answer.exec->stdout_text;
  return final;
}

}  // namespace

Result<FinalAnswer> RunCodeTextSum(CellRun& run) { return CodeTextSum(run); }
Result<FinalAnswer> RunSelfEstimate(CellRun& run) { return SelfEstimate(run); }

}  // namespace codesweep
