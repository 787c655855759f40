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
#include "jobs/tasks/declared/declared_task.h"

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

// Batch mode: answers the executions of the cell's earlier (parked) runs from their records, in
// order, while the code asked for is the recorded code; runs anything else for real.
class ReplayExecutor final : public Executor {
 public:
  ReplayExecutor(Executor& real, const std::vector<ExecutionRecord>& recorded)
      : real_(real), recorded_(recorded) {}
  Result<ExecResult> Run(const ExecRequest& request) override {
    if (next_ < recorded_.size() && recorded_[next_].code == request.code) {
      const ExecutionRecord& rec = recorded_[next_++];
      ExecResult r;
      static_cast<ExecReport&>(r) = rec;
      for (ExecStatus s :
           {ExecStatus::kOk, ExecStatus::kError, ExecStatus::kTimeout, ExecStatus::kMemory,
            ExecStatus::kKilled, ExecStatus::kOutputLimit, ExecStatus::kRefused}) {
        if (ExecStatusName(s) == rec.status) r.status = s;
      }
      return r;
    }
    next_ = recorded_.size();  // the trajectory left the records: run the rest for real
    return real_.Run(request);
  }

 private:
  Executor& real_;
  const std::vector<ExecutionRecord>& recorded_;
  size_t next_ = 0;
};

// A built-in task, built by the registry on the first job that names it in this process. One
// whose dataset cannot be loaded here fails the job as retryable: another worker (with its own
// data/ folder) may load it.
Result<const Task*> BuiltinTask(const TaskRegistry& tasks, const std::string& name) {
  if (!tasks.Contains(name)) return Status::InvalidArgument("unknown task " + name);
  Result<const Task*> task = tasks.Get(name);
  if (!task.ok()) {
    return Status::Unavailable("task " + name +
                               " cannot be loaded on this worker: " + task.status().message());
  }
  return task;
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

// A python scorer's sandbox limits: the sweep's, capped at 10 s of wall time.
ExecLimits ScorerLimits(ExecLimits limits) {
  limits.wall_ms = std::min<int64_t>(limits.wall_ms, 10'000);
  return limits;
}

// One candidate (the reply or the code's output) judged by a declared task: extraction and a
// rule-based scorer, or the task's python scorer (in the sandbox) or LLM judge (a model of the
// sweep, called like the method's own calls: through the cluster rate limiter and call cache).
// A scorer that fails is a verdict with its reason; only a sandbox or model that cannot be
// reached at all is an error (transient: the cell is retried).
Result<DeclaredJudgement> JudgeDeclaredCandidate(const DeclaredRowTask& task,
                                                 const Instance& instance, std::string_view text,
                                                 const JobSpec& spec, const RunnerDeps& deps,
                                                 const ExecLimits& limits, Outcome& out,
                                                 nlohmann::json& scorer_log) {
  const DeclaredTaskSpec& ds = task.spec();
  DeclaredJudgement j = JudgeDeclared(ds, instance, text);
  if (!j.answer || (!ds.python && !ds.judge)) return j;
  AnswerSource source = j.verdict.source;
  if (ds.python) {
    ExecRequest request{PythonScorerCall(*ds.python, *j.answer, task.row(), text),
                        ScorerLimits(limits), ds.python->source};
    CS_ASSIGN_OR_RETURN(ExecResult run, deps.executor->Run(request));
    std::string status(ExecStatusName(run.status));
    j.verdict = PythonScorerVerdict(status, run);
    scorer_log.push_back({{"kind", "python"}, {"status", status}, {"wall_ms", run.wall_ms}});
  } else {
    if (!task.judge_model()) return Status::InvalidArgument("the judge scorer has no model");
    Result<std::string> prompt =
        JudgePrompt(*ds.judge, task.row(), instance.prompt, *j.answer, instance.truth, text);
    if (!prompt.ok()) {
      j.verdict = Verdict{};
      j.verdict.reason = "judge rubric: " + prompt.status().message();
    } else {
      JobSpec judge_spec = spec;
      judge_spec.model = *task.judge_model();
      judge_spec.gen = task.judge_gen();
      CS_ASSIGN_OR_RETURN(std::unique_ptr<LlmClient> client,
                          deps.make_client(judge_spec, task, instance));
      if (client == nullptr) return Status::Internal("client factory returned no judge client");
      CellRun judge(judge_spec, task, instance, *client, *deps.executor, limits, out);
      LlmRequest request = judge.NewRequest({UserMessage(*prompt)});
      request.draw = spec.epoch;
      CS_ASSIGN_OR_RETURN(LlmResponse reply, judge.Call(request, std::max(0, out.turns_used - 1)));
      j.verdict = ParseJudgeVerdict(reply.content);
      scorer_log.push_back({{"kind", "judge"},
                            {"model", judge_spec.model.id},
                            {"call", static_cast<int>(out.calls.size()) - 1},
                            {"grade", j.verdict.parsed}});
    }
  }
  j.verdict.source = source;
  if (j.verdict.parsed.empty() || ds.judge) j.verdict.parsed = *j.answer;
  return j;
}

// Judge() for declared tasks. answer_source is "tags" when the first extractor of the task's chain
// found the judged answer, "fallback" when a later one did, "none" when none did; extra.extractor
// names the one that did ("boxed", "regex", ...).
Status JudgeDeclaredCell(const DeclaredRowTask& task, const Instance& instance,
                         const FinalAnswer& final, const JobSpec& spec, const RunnerDeps& deps,
                         const ExecLimits& limits, Outcome& out) {
  nlohmann::json scorer_log = nlohmann::json::array();
  CS_ASSIGN_OR_RETURN(
      DeclaredJudgement reply,
      JudgeDeclaredCandidate(task, instance, final.reply, spec, deps, limits, out, scorer_log));
  std::optional<DeclaredJudgement> code;
  if (final.code_output) {
    CS_ASSIGN_OR_RETURN(code, JudgeDeclaredCandidate(task, instance, *final.code_output, spec, deps,
                                                     limits, out, scorer_log));
  }
  out.correct = reply.verdict.correct || (code && code->verdict.correct);
  out.score = std::max(reply.verdict.score, code ? code->verdict.score : 0.0);
  const DeclaredJudgement* chosen = &reply;
  if (code && code->verdict.correct) {
    chosen = &*code;
    out.passed_by = "code";
  } else if (reply.verdict.correct) {
    out.passed_by = "reply";
  } else if (code) {
    chosen = &*code;
  }
  out.final_answer = chosen->verdict.parsed;
  out.verdict_reason = chosen->verdict.reason;
  out.answer_source =
      chosen->extractor.empty() ? "none" : std::string(AnswerSourceName(chosen->verdict.source));
  nlohmann::json extra = nlohmann::json::parse(out.extra_json, nullptr, false);
  if (!extra.is_object()) extra = nlohmann::json::object();
  extra["extractor"] = chosen->extractor;
  if (!scorer_log.empty()) extra["scorer"] = scorer_log;
  out.extra_json = extra.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return Status::OK();
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
  // A declared task's job carries its definition and row (no dataset file needed here).
  std::unique_ptr<DeclaredRowTask> declared;
  if (!spec.task_def.empty()) {
    CS_ASSIGN_OR_RETURN(declared, DeclaredRowTask::FromWire(spec.task_def, spec.task_row));
  }
  const Task* task = declared.get();
  if (task == nullptr) {
    CS_ASSIGN_OR_RETURN(task, BuiltinTask(*deps.tasks, spec.task));
  }
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
  ReplayExecutor executor(*deps.executor, spec.replay_executions);
  CellRun run(effective, *task, instance, *client, executor, limits, out);
  Result<FinalAnswer> final = fn(run);
  // The expected answer, for `show`, `export` and v_results (never shown to the model).
  if (!instance.canonical_answer.empty()) run.extra()["target"] = instance.canonical_answer;
  run.Finish();
  if (!final.ok()) return final.status();
  if (declared) return JudgeDeclaredCell(*declared, instance, *final, spec, deps, limits, out);
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
  if (IsParked(status)) {  // batch mode: not a failure, the cell waits for its batch
    out.parked = true;
    if (!out.calls.empty()) out.parked_on = out.calls.back().call_key;
  }
  out.wall_ms = std::chrono::duration_cast<Millis>(clock.Now() - start).count();
  return out;
}

Status JudgeDeclaredAnswer(const JobSpec& spec, std::string_view answer, const RunnerDeps& deps,
                           Outcome& out) {
  if (deps.executor == nullptr || !deps.make_client) {
    return Status::Internal("JudgeDeclaredAnswer: missing dependencies");
  }
  CS_ASSIGN_OR_RETURN(std::unique_ptr<DeclaredRowTask> task,
                      DeclaredRowTask::FromWire(spec.task_def, spec.task_row));
  CS_ASSIGN_OR_RETURN(ExecLimits limits, ParseExecLimits(spec.sandbox_json));
  CS_ASSIGN_OR_RETURN(Instance instance, task->Generate(spec.complexity, spec.sample, spec.seed));
  FinalAnswer final{std::string(answer), std::nullopt};
  try {
    return JudgeDeclaredCell(*task, instance, final, spec, deps, limits, out);
  } catch (const std::exception& e) {
    return Status::Internal(std::string("JudgeDeclaredAnswer: unexpected exception: ") + e.what());
  }
}

}  // namespace codesweep
