#include <cstdlib>

#include "jobs/tasks/factories.h"
#include "jobs/tasks/task.h"

namespace codesweep {

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
  for (const char* subset :
       {"date_understanding", "web_of_lies", "logical_deduction_seven_objects", "navigate"}) {
    CS_RETURN_IF_ERROR(add(MakeBbhTask(data_dir, subset)));
  }
  CS_RETURN_IF_ERROR(add(MakeGsmHardTask(data_dir)));
  CS_RETURN_IF_ERROR(add(MakeMathTask(data_dir, "geometry")));
  CS_RETURN_IF_ERROR(add(MakeMathTask(data_dir, "counting_and_probability")));
  return reg;
}

const Task* TaskRegistry::Find(std::string_view name) const {
  for (const auto& t : tasks_) {
    if (t->name() == name) return t.get();
  }
  return nullptr;
}

std::string DefaultDataDir() { return std::string(CODESWEEP_SOURCE_DIR) + "/data"; }

}  // namespace codesweep
