// RunJob: one cell from JobSpec to Outcome. Generates the instance, makes the client, runs the
// method, and judges the two candidates (PAPER.md §2.3): the output of the executed code and the
// raw reply; the cell is correct if either passes.
#include <algorithm>
#include <exception>
#include <functional>
#include <optional>

#include "jobs/methods/cell_run.h"
#include "jobs/methods/method.h"
#include "jobs/methods/method_template.h"
#include "jobs/sandbox/sandbox.h"

namespace codesweep {

namespace {

bool IsTransient(StatusCode code) {
  return code == StatusCode::kUnavailable || code == StatusCode::kDeadlineExceeded ||
         code == StatusCode::kResourceExhausted;
}

void Fail(Outcome& out, const Status& status) {
  out.failed = true;
  out.retryable = IsTransient(status.code());
  out.error = status.message();  // shown to users: words, not internal status names
}

// Fills the verdict side of the outcome from the method's final answer.
void Judge(const Task& task, const Instance& instance, const FinalAnswer& final, Outcome& out) {
  Verdict reply = task.Check(instance, final.reply);
  std::optional<Verdict> code;
  if (final.code_output) code = task.Check(instance, *final.code_output);
  out.correct = reply.correct || (code && code->correct);
  out.score = std::max(reply.score, code ? code->score : 0.0);
  const Verdict* chosen = &reply;
  if (code && code->correct) {
    chosen = &*code;
    out.passed_by = "code";
  } else if (reply.correct) {
    out.passed_by = "reply";
  } else if (code) {
    chosen = &*code;  // neither passed: report the executed answer, as the original does
  }
  out.final_answer = chosen->parsed;
  out.verdict_reason = chosen->reason;
  out.answer_source = std::string(AnswerSourceName(chosen->source));
}

Status RunCell(const JobSpec& spec, const RunnerDeps& deps, Outcome& out) {
  if (deps.tasks == nullptr || deps.executor == nullptr || !deps.make_client) {
    return Status::Internal("RunJob: missing dependencies");
  }
  // A declared method travels with the job (JobSpec::method_json); a built-in one by name.
  std::optional<MethodTemplate> tmpl;
  MethodInfo info;
  std::function<Result<FinalAnswer>(CellRun&)> fn;
  if (!spec.method_json.empty()) {
    CS_ASSIGN_OR_RETURN(tmpl, MethodTemplateFromJson(spec.method_json));
    if (tmpl->name != spec.method) {
      return Status::InvalidArgument("method " + spec.method +
                                     ": the job carries the template of " + tmpl->name);
    }
    info = MethodTemplateInfo(*tmpl);
    fn = [&tmpl](CellRun& run) { return RunMethodTemplate(run, *tmpl); };
  } else {
    const MethodInfo* builtin = FindMethod(spec.method);
    MethodFn builtin_fn = FindMethodFn(spec.method);
    if (builtin == nullptr || builtin_fn == nullptr)
      return Status::InvalidArgument("unknown method " + spec.method);
    info = *builtin;
    fn = builtin_fn;
  }
  const Task* task = deps.tasks->Find(spec.task);
  if (task == nullptr) return Status::InvalidArgument("unknown task " + spec.task);
  CS_ASSIGN_OR_RETURN(ExecLimits limits, ParseExecLimits(spec.sandbox_json));
  CS_ASSIGN_OR_RETURN(Instance instance, task->Generate(spec.complexity, spec.sample, spec.seed));
  CS_ASSIGN_OR_RETURN(std::unique_ptr<LlmClient> client, deps.make_client(spec, *task, instance));
  if (client == nullptr) return Status::Internal("client factory returned no client");
  CS_RETURN_IF_ERROR(CheckMethodSupported(info, client->capabilities()));
  JobSpec effective = spec;
  if (tmpl) {
    // A fixed turn cap is the template's; the cell's turns were set from it by the grid.
    if (tmpl->turns) effective.turns = *tmpl->turns;
    if (!tmpl->turns && !info.multi_turn) effective.turns = 1;
  } else if (!info.multi_turn) {
    effective.turns = 1;
  }
  CellRun run(effective, *task, instance, *client, *deps.executor, limits, out);
  Result<FinalAnswer> final = fn(run);
  // The expected answer, for `show`, `export` and v_results (never shown to the model).
  if (!instance.canonical_answer.empty()) run.extra()["target"] = instance.canonical_answer;
  run.Finish();
  if (!final.ok()) return final.status();
  Judge(*task, instance, *final, out);
  return Status::OK();
}

}  // namespace

Outcome RunJob(const JobSpec& spec, const RunnerDeps& deps) {
  SystemClock system_clock;
  const Clock& clock = deps.clock ? *deps.clock : system_clock;
  const SteadyTime start = clock.Now();
  Outcome out;
  Status status;
  try {
    status = RunCell(spec, deps, out);
  } catch (const std::exception& e) {
    status = Status::Internal(std::string("RunJob: unexpected exception: ") + e.what());
  } catch (...) {
    status = Status::Internal("RunJob: unexpected exception");
  }
  if (!status.ok()) Fail(out, status);
  out.wall_ms = std::chrono::duration_cast<Millis>(clock.Now() - start).count();
  return out;
}

}  // namespace codesweep
