// TEMPORARY stub: delete this file when game24.cc exists.
#include "jobs/tasks/factories.h"

namespace codesweep {
Result<std::unique_ptr<Task>> MakeGame24Task(const std::string&) { return std::unique_ptr<Task>(); }
}  // namespace codesweep
