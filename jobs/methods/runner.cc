// RunJob: one cell from JobSpec to Outcome. Generates the instance, makes the client, runs the
// method, and judges the two candidates (PAPER.md §2.3): the output of the executed code and the
// raw reply; the cell is correct if either passes.
#include <algorithm>
#include <exception>

#include "jobs/methods/cell_run.h"
#include "jobs/methods/method.h"
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
  const MethodInfo* info = FindMethod(spec.method);
  MethodFn fn = FindMethodFn(spec.method);
  if (info == nullptr || fn == nullptr)
    return Status::InvalidArgument("unknown method " + spec.method);
  const Task* task = deps.tasks->Find(spec.task);
  if (task == nullptr) return Status::InvalidArgument("unknown task " + spec.task);
  CS_ASSIGN_OR_RETURN(ExecLimits limits, ParseExecLimits(spec.sandbox_json));
  CS_ASSIGN_OR_RETURN(Instance instance, task->Generate(spec.complexity, spec.sample, spec.seed));
  CS_ASSIGN_OR_RETURN(std::unique_ptr<LlmClient> client, deps.make_client(spec, *task, instance));
  if (client == nullptr) return Status::Internal("client factory returned no client");
  CS_RETURN_IF_ERROR(CheckMethodSupported(*info, client->capabilities()));
  JobSpec effective = spec;
  if (!info->multi_turn) effective.turns = 1;
  ReplayExecutor executor(*deps.executor, spec.replay_executions);
  CellRun run(effective, *task, instance, *client, executor, limits, out);
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
  if (IsParked(status)) {  // batch mode: not a failure, the cell waits for its batch
    out.parked = true;
    if (!out.calls.empty()) out.parked_on = out.calls.back().call_key;
  }
  out.wall_ms = std::chrono::duration_cast<Millis>(clock.Now() - start).count();
  return out;
}

}  // namespace codesweep
