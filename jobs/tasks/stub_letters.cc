// TEMPORARY stub: delete this file when letters.cc exists.
#include "jobs/tasks/factories.h"

namespace codesweep {
Result<std::unique_ptr<Task>> MakeLettersTask(const std::string&) { return std::unique_ptr<Task>(); }
}  // namespace codesweep
