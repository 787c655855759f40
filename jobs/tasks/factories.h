// Constructors of the tasks written in C++, one per source file, called only by
// TaskRegistry::Create (the dataset tasks are task files in data/, read by the registry).
// Tasks with data load it from data_dir and fail with a clear Status if it is missing.
#pragma once

#include <memory>
#include <string>

#include "jobs/tasks/task.h"

namespace codesweep {

std::unique_ptr<Task> MakeNumberMultiplyTask();
Result<std::unique_ptr<Task>> MakeGame24Task(const std::string& data_dir);
Result<std::unique_ptr<Task>> MakePathPlanTask(const std::string& data_dir);
Result<std::unique_ptr<Task>> MakeLettersTask(const std::string& data_dir);
std::unique_ptr<Task> MakeBoxLiftTask();
std::unique_ptr<Task> MakeBoxNetTask();
std::unique_ptr<Task> MakeBlocksworldTask();

}  // namespace codesweep
