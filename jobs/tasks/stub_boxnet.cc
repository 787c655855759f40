// TEMPORARY stub: delete this file when boxnet.cc exists.
#include "jobs/tasks/factories.h"

namespace codesweep {
std::unique_ptr<Task> MakeBoxNetTask() { return nullptr; }
}  // namespace codesweep
