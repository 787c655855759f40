#include <cstdlib>
#include <mutex>

#include "jobs/tasks/declared/declared_task.h"
#include "jobs/tasks/factories.h"
#include "jobs/tasks/task.h"

namespace codesweep {
namespace {

// The paper's dataset tasks, as task files in data/ (docs/tasks.md, "The paper's dataset tasks
// as task files"), in the order `codesweep tasks` lists them, each with the name its file
// declares (registered before the file is read).
struct ShippedTaskFile {
  const char* name;
  const char* file;
};
constexpr ShippedTaskFile kShippedTaskFiles[] = {
    {"bbh_date_understanding", "bbh/date_understanding.toml"},
    {"bbh_web_of_lies", "bbh/web_of_lies.toml"},
    {"bbh_logical_deduction_seven_objects", "bbh/logical_deduction_seven_objects.toml"},
    {"bbh_navigate", "bbh/navigate.toml"},
    {"gsm_hard", "gsm_hard.toml"},
    {"math_geometry", "math/geometry.toml"},
    {"math_counting_and_probability", "math/counting_and_probability.toml"}};

Result<std::unique_ptr<Task>> LoadShippedTask(const std::string& data_dir,
                                              const ShippedTaskFile& f) {
  const std::string path = data_dir + "/" + f.file;
  Result<std::vector<DeclaredTaskSpec>> specs = ReadDeclaredTaskFile(path);
  if (!specs.ok()) return specs.status();
  if (specs->size() != 1) return Status::Corruption(path + ": expected exactly one task");
  if (specs->front().name != f.name) {
    return Status::Corruption(path + ": declares task \"" + specs->front().name +
                              "\", expected \"" + f.name + "\"");
  }
  Result<std::unique_ptr<DeclaredTask>> task = DeclaredTask::Create(std::move(specs->front()));
  if (!task.ok()) return task.status();
  return std::unique_ptr<Task>(std::move(task).value());
}

}  // namespace

// One registered task: built by `loader` on the first Get (once; a failure is kept and returned
// to every later Get), or given built by Add.
struct TaskRegistry::Entry {
  std::string name;
  Loader loader;
  mutable std::mutex mu;
  mutable bool tried = false;  // under mu
  mutable std::unique_ptr<Task> task;
  mutable Status status;
};

TaskRegistry::TaskRegistry() = default;
TaskRegistry::~TaskRegistry() = default;

std::unique_ptr<TaskRegistry> TaskRegistry::CreateLazy(const std::string& data_dir) {
  auto reg = std::make_unique<TaskRegistry>();
  auto plain = [](std::unique_ptr<Task> (*make)()) -> Loader {
    return [make]() -> Result<std::unique_ptr<Task>> { return make(); };
  };
  auto with_data = [&data_dir](Result<std::unique_ptr<Task>> (*make)(const std::string&)) {
    return [make, data_dir]() { return make(data_dir); };
  };
  reg->AddLazy("number_multiply", plain(MakeNumberMultiplyTask));
  reg->AddLazy("game24", with_data(MakeGame24Task));
  reg->AddLazy("path_plan", with_data(MakePathPlanTask));
  reg->AddLazy("letters", with_data(MakeLettersTask));
  reg->AddLazy("boxlift", plain(MakeBoxLiftTask));
  reg->AddLazy("boxnet", plain(MakeBoxNetTask));
  reg->AddLazy("blocksworld", plain(MakeBlocksworldTask));
  for (const ShippedTaskFile& f : kShippedTaskFiles) {
    reg->AddLazy(f.name, [data_dir, f] { return LoadShippedTask(data_dir, f); });
  }
  return reg;
}

Result<std::unique_ptr<TaskRegistry>> TaskRegistry::Create(const std::string& data_dir) {
  std::unique_ptr<TaskRegistry> reg = CreateLazy(data_dir);
  CS_RETURN_IF_ERROR(reg->LoadAll().status());
  return reg;
}

void TaskRegistry::Add(std::unique_ptr<Task> task) {
  auto e = std::make_unique<Entry>();
  e->name = std::string(task->name());
  e->tried = true;
  e->task = std::move(task);
  entries_.push_back(std::move(e));
}

void TaskRegistry::AddLazy(std::string name, Loader loader) {
  auto e = std::make_unique<Entry>();
  e->name = std::move(name);
  e->loader = std::move(loader);
  entries_.push_back(std::move(e));
}

const TaskRegistry::Entry* TaskRegistry::FindEntry(std::string_view name) const {
  for (const auto& e : entries_) {
    if (e->name == name) return e.get();
  }
  return nullptr;
}

Result<const Task*> TaskRegistry::Load(const Entry& e) {
  std::lock_guard<std::mutex> lock(e.mu);
  if (!e.tried) {
    e.tried = true;
    Result<std::unique_ptr<Task>> t = e.loader();
    if (!t.ok()) {
      e.status = t.status();
    } else if (*t == nullptr || (*t)->name() != e.name) {
      e.status = Status::Internal("task " + e.name + ": its loader built another task");
    } else {
      e.task = std::move(t).value();
    }
  }
  if (e.task) return static_cast<const Task*>(e.task.get());
  return e.status;
}

Result<const Task*> TaskRegistry::Get(std::string_view name) const {
  const Entry* e = FindEntry(name);
  if (e == nullptr) return Status::NotFound("unknown task " + std::string(name));
  return Load(*e);
}

const Task* TaskRegistry::Find(std::string_view name) const {
  Result<const Task*> t = Get(name);
  return t.ok() ? *t : nullptr;
}

bool TaskRegistry::Contains(std::string_view name) const { return FindEntry(name) != nullptr; }

std::vector<std::string> TaskRegistry::names() const {
  std::vector<std::string> out;
  for (const auto& e : entries_) out.push_back(e->name);
  return out;
}

Result<std::vector<const Task*>> TaskRegistry::LoadAll() const {
  std::vector<const Task*> out;
  for (const auto& e : entries_) {
    CS_ASSIGN_OR_RETURN(const Task* t, Load(*e));
    out.push_back(t);
  }
  return out;
}

std::vector<const Task*> TaskRegistry::tasks() const {
  std::vector<const Task*> out;
  for (const auto& e : entries_) {
    std::lock_guard<std::mutex> lock(e->mu);
    if (e->task) out.push_back(e->task.get());
  }
  return out;
}

int TaskRegistry::loaded_count() const { return static_cast<int>(tasks().size()); }

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
