// TEMPORARY stub: delete this file when number_multiply.cc exists.
#include "jobs/tasks/factories.h"

namespace codesweep {
std::unique_ptr<Task> MakeNumberMultiplyTask() { return nullptr; }
}  // namespace codesweep
