// TEMPORARY stub: delete this file when boxlift.cc exists.
#include "jobs/tasks/factories.h"

namespace codesweep {
std::unique_ptr<Task> MakeBoxLiftTask() { return nullptr; }
}  // namespace codesweep
