// Running a declared method (method_template.h): render its templates for the cell and hand them
// to the shared turn loop (code = execute | never) or tool loop (code = tool), so a declared
// method records exactly what the built-in ones record.
#include "jobs/methods/cell_run.h"
#include "jobs/methods/extract.h"
#include "jobs/methods/method_template.h"

namespace codesweep {

namespace {

std::map<std::string, std::string> PromptValues(const CellRun& run) {
  return {{"task_prompt", run.instance().prompt},
          {"task", run.spec().task},
          {"complexity", run.spec().complexity}};
}

// The values a feedback template sees after turn `t` (docs/methods.md, "Placeholders").
std::map<std::string, std::string> FeedbackValues(const CellRun& run, const TurnResult& t) {
  std::map<std::string, std::string> v = PromptValues(run);
  v["reply"] = t.reply.content;
  v["turn"] = std::to_string(t.turn + 2);  // the 1-based number of the turn the feedback opens
  std::vector<std::string> blocks = ExtractCodeBlocks(t.reply.content);
  v["code"] = blocks.empty() ? "" : blocks[0];
  if (t.exec) {
    v["output"] = BoundedFeedback(t.exec->stdout_text);
    v["error"] = BoundedFeedback(t.exec->stderr_text);
    v["status"] = std::string(ExecStatusName(t.exec->status));
    v["exit_code"] = std::to_string(t.exec->exit_code);
    v["execution"] = DescribeExecution(*t.exec, run.limits());
  } else {
    v["status"] = blocks.empty() ? "no_code" : "not_run";
  }
  return v;
}

}  // namespace

Result<FinalAnswer> RunMethodTemplate(CellRun& run, const MethodTemplate& t) {
  const std::map<std::string, std::string> values = PromptValues(run);
  std::vector<ChatMessage> initial;
  if (!t.system.empty()) initial.push_back(SystemMessage(RenderTemplate(t.system, values)));
  initial.push_back(UserMessage(RenderTemplate(t.prompt, values)));
  run.extra()["method_template"] = MethodTemplateVersion(t);
  if (t.code == CodeMode::kTool) return RunToolLoop(run, std::move(initial));
  TurnLoopSpec spec;
  spec.initial = std::move(initial);
  spec.execute = t.code == CodeMode::kExecute;
  spec.feedback = [&run, &t](const TurnResult& turn) {
    const bool had_code = turn.exec.has_value() || !ExtractCodeBlocks(turn.reply.content).empty();
    const std::string& text =
        had_code || t.feedback_without_code.empty() ? t.feedback : t.feedback_without_code;
    return RenderTemplate(text, FeedbackValues(run, turn));
  };
  return RunTurnLoop(run, spec);
}

}  // namespace codesweep
