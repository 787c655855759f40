#include <cstdlib>

#include "jobs/tasks/declared/declared_task.h"
#include "jobs/tasks/factories.h"
#include "jobs/tasks/task.h"

namespace codesweep {
namespace {

// The paper's dataset tasks, as task files in data/ (docs/tasks.md, "The paper's dataset tasks
// as task files"), in the order `codesweep tasks` lists them.
constexpr const char* kShippedTaskFiles[] = {"bbh/date_understanding.toml",
                                             "bbh/web_of_lies.toml",
                                             "bbh/logical_deduction_seven_objects.toml",
                                             "bbh/navigate.toml",
                                             "gsm_hard.toml",
                                             "math/geometry.toml",
                                             "math/counting_and_probability.toml"};

Result<std::unique_ptr<Task>> LoadShippedTask(const std::string& data_dir, const char* file) {
  const std::string path = data_dir + "/" + file;
  Result<std::vector<DeclaredTaskSpec>> specs = ReadDeclaredTaskFile(path);
  if (!specs.ok()) return specs.status();
  if (specs->size() != 1) return Status::Corruption(path + ": expected exactly one task");
  Result<std::unique_ptr<DeclaredTask>> task = DeclaredTask::Create(std::move(specs->front()));
  if (!task.ok()) return task.status();
  return std::unique_ptr<Task>(std::move(task).value());
}

}  // namespace

Result<std::unique_ptr<TaskRegistry>> TaskRegistry::Create(const std::string& data_dir) {
  auto reg = std::make_unique<TaskRegistry>();
  auto add = [&](Result<std::unique_ptr<Task>> t) -> Status {
    if (!t.ok()) return t.status();
    if (*t) reg->Add(std::move(t).value());
    return Status::OK();
  };
  CS_RETURN_IF_ERROR(add(MakeNumberMultiplyTask()));
  CS_RETURN_IF_ERROR(add(MakeGame24Task(data_dir)));
  CS_RETURN_IF_ERROR(add(MakePathPlanTask(data_dir)));
  CS_RETURN_IF_ERROR(add(MakeLettersTask(data_dir)));
  CS_RETURN_IF_ERROR(add(MakeBoxLiftTask()));
  CS_RETURN_IF_ERROR(add(MakeBoxNetTask()));
  CS_RETURN_IF_ERROR(add(MakeBlocksworldTask()));
  for (const char* file : kShippedTaskFiles) {
    CS_RETURN_IF_ERROR(add(LoadShippedTask(data_dir, file)));
  }
  return reg;
}

const Task* TaskRegistry::Find(std::string_view name) const {
  for (const auto& t : tasks_) {
    if (t->name() == name) return t.get();
  }
  return nullptr;
}

std::string_view AnswerSourceName(AnswerSource source) {
  switch (source) {
    case AnswerSource::kTags:
      return "tags";
    case AnswerSource::kFallback:
      return "fallback";
    case AnswerSource::kNone:
      break;
  }
  return "none";
}

int TaskVersion(std::string_view task_name) {
  // Version 2 (issue 19): the original's prompts for game24 and letters, and a seeded
  // permutation of the items for every dataset task. The move of the dataset tasks to task files
  // in data/ (issue 15) changed nothing they ask, so their version and cell keys stay.
  static constexpr std::string_view kBumped[] = {"game24",
                                                 "letters",
                                                 "path_plan",
                                                 "gsm_hard",
                                                 "math_geometry",
                                                 "math_counting_and_probability",
                                                 "bbh_date_understanding",
                                                 "bbh_web_of_lies",
                                                 "bbh_logical_deduction_seven_objects",
                                                 "bbh_navigate"};
  for (std::string_view name : kBumped) {
    if (name == task_name) return 2;
  }
  return 1;
}

std::string DefaultDataDir() { return std::string(CODESWEEP_SOURCE_DIR) + "/data"; }

}  // namespace codesweep
