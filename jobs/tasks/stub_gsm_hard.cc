// TEMPORARY stub: delete this file when gsm_hard.cc exists.
#include "jobs/tasks/factories.h"

namespace codesweep {
Result<std::unique_ptr<Task>> MakeGsmHardTask(const std::string&) { return std::unique_ptr<Task>(); }
}  // namespace codesweep
