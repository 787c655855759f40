// Constructors of the individual tasks, one per task file, called only by TaskRegistry::Create.
// Dataset tasks load their data from data_dir and fail with a clear Status if it is missing.
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
// subset: date_understanding, web_of_lies, logical_deduction_seven_objects, navigate
Result<std::unique_ptr<Task>> MakeBbhTask(const std::string& data_dir, const std::string& subset);
Result<std::unique_ptr<Task>> MakeGsmHardTask(const std::string& data_dir);
// subject: geometry, counting_and_probability
Result<std::unique_ptr<Task>> MakeMathTask(const std::string& data_dir, const std::string& subject);

}  // namespace codesweep
