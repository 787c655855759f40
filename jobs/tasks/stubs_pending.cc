// TEMPORARY: factories of tasks not written yet return nullptr (the registry skips them).
// Each task's own file replaces its line here; this file is deleted when all 14 exist.
#include "jobs/tasks/factories.h"

namespace codesweep {
std::unique_ptr<Task> MakeNumberMultiplyTask() { return nullptr; }
Result<std::unique_ptr<Task>> MakeGame24Task(const std::string&) { return std::unique_ptr<Task>(); }
Result<std::unique_ptr<Task>> MakePathPlanTask(const std::string&) { return std::unique_ptr<Task>(); }
Result<std::unique_ptr<Task>> MakeLettersTask(const std::string&) { return std::unique_ptr<Task>(); }
std::unique_ptr<Task> MakeBoxLiftTask() { return nullptr; }
std::unique_ptr<Task> MakeBoxNetTask() { return nullptr; }
std::unique_ptr<Task> MakeBlocksworldTask() { return nullptr; }
Result<std::unique_ptr<Task>> MakeBbhTask(const std::string&, const std::string&) {
  return std::unique_ptr<Task>();
}
Result<std::unique_ptr<Task>> MakeGsmHardTask(const std::string&) { return std::unique_ptr<Task>(); }
Result<std::unique_ptr<Task>> MakeMathTask(const std::string&, const std::string&) {
  return std::unique_ptr<Task>();
}
}  // namespace codesweep
