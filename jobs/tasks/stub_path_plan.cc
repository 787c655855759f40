// TEMPORARY stub: delete this file when path_plan.cc exists.
#include "jobs/tasks/factories.h"

namespace codesweep {
Result<std::unique_ptr<Task>> MakePathPlanTask(const std::string&) { return std::unique_ptr<Task>(); }
}  // namespace codesweep
