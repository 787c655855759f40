// TEMPORARY stub: delete this file when bbh.cc exists.
#include "jobs/tasks/factories.h"

namespace codesweep {
Result<std::unique_ptr<Task>> MakeBbhTask(const std::string&, const std::string&) { return std::unique_ptr<Task>(); }
}  // namespace codesweep
