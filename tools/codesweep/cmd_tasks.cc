// `codesweep tasks`: list the registered tasks, show one generated instance (prompt, truth,
// canonical answer, reference solution), or check an answer against an instance.
// Exit codes: 0 ok / correct, 1 incorrect, 2 usage or data error.
#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include "jobs/tasks/task.h"
#include "tools/codesweep/commands.h"

namespace codesweep {
namespace {

struct TasksOptions {
  std::string data_dir;  // "" = DefaultDataDir()
  std::string task;
  std::string complexity;
  uint64_t seed = 0;
  int64_t sample = 0;
  std::string answer;
  std::string answer_file;
};

Result<std::unique_ptr<TaskRegistry>> OpenRegistry(const TasksOptions& o) {
  return TaskRegistry::Create(o.data_dir.empty() ? DefaultDataDir() : o.data_dir);
}

int ListTasks(const TaskRegistry& reg) {
  for (const auto& t : reg.tasks()) {
    std::string levels;
    for (const std::string& l : t->complexity_levels()) levels += (levels.empty() ? "" : " ") + l;
    if (levels.empty()) levels = "(none)";
    std::printf("%-36s %s\n  levels: %s\n", std::string(t->name()).c_str(),
                std::string(t->description()).c_str(), levels.c_str());
  }
  return 0;
}

// Generates the instance named by the options; prints the error and returns nullopt on failure.
std::optional<Instance> MakeInstance(const TaskRegistry& reg, const TasksOptions& o,
                                     const Task** task_out) {
  const Task* task = reg.Find(o.task);
  if (task == nullptr) {
    std::fprintf(stderr, "codesweep tasks: unknown task '%s' (see `codesweep tasks`)\n",
                 o.task.c_str());
    return std::nullopt;
  }
  Result<Instance> inst = task->Generate(o.complexity, o.sample, o.seed);
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
  std::optional<Instance> inst = MakeInstance(**reg, o, &task);
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
  std::optional<Instance> inst = MakeInstance(**reg, o, &task);
  if (!inst) return 2;
  Verdict v = task->Check(*inst, answer);
  std::printf("correct: %s\nscore: %g\nparsed: %s\nreason: %s\n", v.correct ? "yes" : "no", v.score,
              v.parsed.c_str(), v.reason.c_str());
  return v.correct ? 0 : 1;
}

void AddInstanceOptions(CLI::App* app, TasksOptions* o) {
  app->add_option("task", o->task, "Task name")->required();
  app->add_option("--complexity", o->complexity, "Complexity level (\"\" for none)");
  app->add_option("--seed", o->seed, "Seed")->required();
  app->add_option("--sample", o->sample, "Sample index (default 0)");
}

}  // namespace

CommandAction SetupTasksCommand(CLI::App& sub) {
  auto o = std::make_shared<TasksOptions>();
  sub.add_option("--data-dir", o->data_dir, "Data folder (default: the project's data/)");
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
    return ListTasks(**reg);
  };
}

}  // namespace codesweep
