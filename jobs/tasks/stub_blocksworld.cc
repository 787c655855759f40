// TEMPORARY stub: delete this file when blocksworld.cc exists.
#include "jobs/tasks/factories.h"

namespace codesweep {
std::unique_ptr<Task> MakeBlocksworldTask() { return nullptr; }
}  // namespace codesweep
