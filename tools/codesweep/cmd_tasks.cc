// `codesweep tasks`: list the registered tasks, show one generated instance (prompt, truth,
// canonical answer, reference solution), or check an answer against an instance. With
// --sweep FILE, the tasks that sweep file declares (docs/tasks.md) are listed, shown and checked
// the same way, beside the built-in ones; a Python scorer runs in the sandbox and an LLM judge
// asks the model its scorer names, as in a run.
// Exit codes: 0 ok / correct, 1 incorrect, 2 usage or data error, or a scorer that could not
// run at all (no sandbox; a judge model that cannot be called).
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>

#include "coordinator/sweep/sweep_file.h"
#include "jobs/methods/client_factory.h"
#include "jobs/methods/method.h"
#include "jobs/sandbox/sandbox.h"
#include "jobs/tasks/declared/declared_task.h"
#include "jobs/tasks/task.h"
#include "tools/codesweep/commands.h"

namespace codesweep {
namespace {

struct TasksOptions {
  std::string data_dir;  // "" = DefaultDataDir()
  std::string sweep;     // a sweep file whose declared tasks join the built-in ones
  std::string task;
  std::optional<std::string> complexity;  // unset = the task's first level
  uint64_t seed = 0;
  int64_t sample = 0;
  std::string answer;
  std::string answer_file;
};

// The built-in tasks and, given --sweep, the ones its sweep file declares.
class TaskSet {
 public:
  std::unique_ptr<TaskRegistry> builtin;
  SweepConfig sweep;
  // A declared task of the sweep, else a built-in one (built now); the error says which failed.
  Result<const Task*> Get(const std::string& name) const {
    for (const TaskConfig& t : sweep.tasks) {
      if (t.declared && t.name == name) return static_cast<const Task*>(t.declared.get());
    }
    if (!builtin->Contains(name)) {
      return Status::NotFound("unknown task '" + name + "' (see `codesweep tasks`)");
    }
    return builtin->Get(name);
  }
  // Every task: loads the built-in ones not loaded yet (a broken dataset fails the listing).
  Result<std::vector<const Task*>> All() const {
    CS_ASSIGN_OR_RETURN(std::vector<const Task*> out, builtin->LoadAll());
    for (const TaskConfig& t : sweep.tasks) {
      if (t.declared) out.push_back(t.declared.get());
    }
    return out;
  }
};

Result<TaskSet> OpenRegistry(const TasksOptions& o) {
  TaskSet set;
  // Lazy: `tasks show/check NAME` builds only that task; the listing builds them all.
  set.builtin = TaskRegistry::CreateLazy(o.data_dir.empty() ? DefaultDataDir() : o.data_dir);
  if (!o.sweep.empty()) {
    CS_ASSIGN_OR_RETURN(set.sweep, LoadSweepFile(o.sweep, *set.builtin));
  }
  return set;
}

int ListTasks(const TaskSet& reg) {
  Result<std::vector<const Task*>> all = reg.All();
  if (!all.ok()) {
    std::fprintf(stderr, "codesweep tasks: %s\n", all.status().message().c_str());
    return 2;
  }
  for (const Task* t : *all) {
    std::string levels;
    for (const std::string& l : t->complexity_levels()) levels += (levels.empty() ? "" : " ") + l;
    if (levels.empty()) levels = "(none)";
    std::printf("%-36s %s\n  levels: %s\n", std::string(t->name()).c_str(),
                std::string(t->description()).c_str(), levels.c_str());
    if (const auto* d = dynamic_cast<const DeclaredTask*>(t)) {
      std::printf("  declared: %s (%zu rows), definition %s\n", d->spec().dataset.c_str(),
                  d->row_count(), d->spec().definition_hash.substr(0, 12).c_str());
    }
  }
  return 0;
}

// Generates the instance named by the options; prints the error and returns nullopt on failure.
std::optional<Instance> MakeInstance(const TaskSet& reg, const TasksOptions& o,
                                     const Task** task_out) {
  Result<const Task*> found = reg.Get(o.task);
  if (!found.ok()) {
    std::fprintf(stderr, "codesweep tasks: %s\n", found.status().message().c_str());
    return std::nullopt;
  }
  const Task* task = *found;
  std::string complexity;
  if (o.complexity) {
    complexity = *o.complexity;
  } else if (!task->complexity_levels().empty()) {
    complexity = task->complexity_levels().front();
  }
  Result<Instance> inst = task->Generate(complexity, o.sample, o.seed);
  if (!inst.ok()) {
    std::fprintf(stderr, "codesweep tasks: %s\n", inst.status().message().c_str());
    return std::nullopt;
  }
  *task_out = task;
  return std::move(inst).value();
}

int Show(const TasksOptions& o) {
  auto reg = OpenRegistry(o);
  if (!reg.ok()) {
    std::fprintf(stderr, "codesweep tasks: %s\n", reg.status().message().c_str());
    return 2;
  }
  const Task* task = nullptr;
  std::optional<Instance> inst = MakeInstance(*reg, o, &task);
  if (!inst) return 2;
  std::printf("== task: %s  complexity: %s  sample: %lld  seed: %llu\n", inst->task.c_str(),
              inst->complexity.c_str(), static_cast<long long>(inst->sample),
              static_cast<unsigned long long>(inst->seed));
  std::printf("== prompt\n%s\n== ground truth\n%s\n", inst->prompt.c_str(), inst->truth.c_str());
  std::printf("== canonical answer\n%s\n", inst->canonical_answer.empty()
                                               ? "(none)"
                                               : ("<<<" + inst->canonical_answer + ">>>").c_str());
  std::printf("== reference solution (python3)\n%s", task->ReferenceSolution(*inst).c_str());
  return 0;
}

// Stands in for the sandbox where a scorer needs none (an LLM judge): runs nothing.
class NoCodeExecutor final : public Executor {
 public:
  Result<ExecResult> Run(const ExecRequest&) override {
    return Status::FailedPrecondition("tasks check runs no code here");
  }
};

// The job a worker would get for this instance of a declared task: its definition and row.
Result<JobSpec> DeclaredJob(const TaskSet& reg, const DeclaredTask& task, const Instance& inst,
                            const TasksOptions& o) {
  const TaskConfig* config = nullptr;
  for (const TaskConfig& t : reg.sweep.tasks) {
    if (t.declared.get() == &task) config = &t;
  }
  if (config == nullptr) return Status::Internal("the task is not one of the sweep's");
  CS_ASSIGN_OR_RETURN(size_t index, task.RowIndex(inst.complexity, o.sample, o.seed));
  CS_ASSIGN_OR_RETURN(nlohmann::json row, task.dataset().Row(index));
  JobSpec spec;
  spec.sweep = reg.sweep.name;
  spec.task = std::string(task.name());
  spec.complexity = inst.complexity;
  spec.sample = o.sample;
  spec.seed = o.seed;
  spec.method = "only_question";
  spec.sandbox_json = reg.sweep.sandbox_json;
  spec.task_def = config->declared_wire;
  spec.task_row = row.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return spec;
}

// A declared task's Python scorer (in the sandbox, fresh mode) or LLM judge (the model its
// scorer names, through the same client a run uses: the sim model answers offline; a provider
// model needs its key and network) judges the answer as in a run.
int CheckWithScorer(const TaskSet& reg, const DeclaredTask& task, const Instance& inst,
                    const TasksOptions& o, const std::string& answer) {
  const bool python = task.spec().python.has_value();
  std::string scorer = python ? "python (" + task.spec().python->file + ")"
                              : "judge (model " + task.spec().judge->model + ")";
  Result<JobSpec> spec = DeclaredJob(reg, task, inst, o);
  if (!spec.ok()) {
    std::fprintf(stderr, "codesweep tasks check: %s\n", spec.status().message().c_str());
    return 2;
  }
  NoCodeExecutor no_code;
  std::unique_ptr<Executor> sandbox;
  RunnerDeps deps;
  deps.executor = &no_code;
  if (python) {
    SandboxOptions options;
    options.preload = {};
    Result<std::unique_ptr<Executor>> made = MakeSandbox(options, Logger::Null());
    if (!made.ok()) {
      std::fprintf(stderr, "codesweep tasks check: the Python scorer needs the sandbox: %s\n",
                   made.status().message().c_str());
      return 2;
    }
    sandbox = std::move(made).value();
    deps.executor = sandbox.get();
  }
  ProviderEnv env;
  env.get_secret = [](const std::string& name) -> std::optional<std::string> {
    const char* v = std::getenv(name.c_str());
    return v != nullptr ? std::optional<std::string>(v) : std::nullopt;
  };
  deps.make_client = MakeDefaultClientFactory(env);
  Outcome out;
  Status judged = JudgeDeclaredAnswer(*spec, answer, deps, out);
  if (!judged.ok()) {
    DeclaredJudgement j = JudgeDeclared(task.spec(), inst, answer);
    std::fprintf(stderr, "codesweep tasks check: the %s scorer could not run: %s\n",
                 python ? "Python" : "judge", judged.message().c_str());
    std::printf("answer: %s\nextractor: %s\nscorer: %s (not run)\n",
                j.answer ? j.answer->c_str() : "(none)", j.extractor.c_str(), scorer.c_str());
    return 2;
  }
  nlohmann::json extra = nlohmann::json::parse(out.extra_json, nullptr, false);
  std::string extractor =
      extra.is_object() && extra.contains("extractor") && extra["extractor"].is_string()
          ? extra["extractor"].get<std::string>()
          : "";
  std::printf("correct: %s\nscore: %g\nparsed: %s\nreason: %s\nextractor: %s\nscorer: %s\n",
              out.correct ? "yes" : "no", out.score, out.final_answer.c_str(),
              out.verdict_reason.c_str(), extractor.c_str(), scorer.c_str());
  return out.correct ? 0 : 1;
}

int CheckAnswer(const TasksOptions& o) {
  std::string answer = o.answer;
  if (!o.answer_file.empty()) {
    std::ifstream in(o.answer_file, std::ios::binary);
    if (!in) {
      std::fprintf(stderr, "codesweep tasks check: cannot read %s\n", o.answer_file.c_str());
      return 2;
    }
    std::ostringstream ss;
    ss << in.rdbuf();
    answer = ss.str();
  }
  auto reg = OpenRegistry(o);
  if (!reg.ok()) {
    std::fprintf(stderr, "codesweep tasks: %s\n", reg.status().message().c_str());
    return 2;
  }
  const Task* task = nullptr;
  std::optional<Instance> inst = MakeInstance(*reg, o, &task);
  if (!inst) return 2;
  if (const auto* d = dynamic_cast<const DeclaredTask*>(task);
      d && (d->spec().python || d->spec().judge)) {
    return CheckWithScorer(*reg, *d, *inst, o, answer);
  }
  Verdict v = task->Check(*inst, answer);
  std::printf("correct: %s\nscore: %g\nparsed: %s\nreason: %s\n", v.correct ? "yes" : "no", v.score,
              v.parsed.c_str(), v.reason.c_str());
  return v.correct ? 0 : 1;
}

void AddInstanceOptions(CLI::App* app, TasksOptions* o) {
  app->add_option("task", o->task, "Task name")->required();
  app->add_option("--complexity", o->complexity,
                  "Complexity level (default: the task's first level)");
  app->add_option("--seed", o->seed, "Seed")->required();
  app->add_option("--sample", o->sample,
                  "Sample index (default 0; for a declared task also a row's sample key)");
  app->add_option("--sweep", o->sweep, "A sweep file whose declared tasks to use");
}

}  // namespace

CommandAction SetupTasksCommand(CLI::App& sub) {
  auto o = std::make_shared<TasksOptions>();
  sub.add_option("--data-dir", o->data_dir, "Data folder (default: the project's data/)");
  sub.add_option("--sweep", o->sweep, "Also list the tasks this sweep file declares");
  CLI::App* show = sub.add_subcommand("show", "Print one instance and its reference solution");
  AddInstanceOptions(show, o.get());
  CLI::App* check = sub.add_subcommand("check", "Check an answer against one instance");
  AddInstanceOptions(check, o.get());
  auto* ans = check->add_option("--answer", o->answer, "The answer text (a whole reply)");
  auto* file = check->add_option("--answer-file", o->answer_file, "Read the answer from a file");
  ans->excludes(file);
  sub.require_subcommand(0, 1);
  return [o, show, check]() -> int {
    if (show->parsed()) return Show(*o);
    if (check->parsed()) {
      if (check->count("--answer") == 0 && check->count("--answer-file") == 0) {
        std::fprintf(stderr, "codesweep tasks check: give --answer or --answer-file\n");
        return 2;
      }
      return CheckAnswer(*o);
    }
    auto reg = OpenRegistry(*o);
    if (!reg.ok()) {
      std::fprintf(stderr, "codesweep tasks: %s\n", reg.status().message().c_str());
      return 2;
    }
    return ListTasks(*reg);
  };
}

}  // namespace codesweep
