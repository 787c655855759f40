#include <cstdlib>

#include "jobs/tasks/factories.h"
#include "jobs/tasks/task.h"

namespace codesweep {

Result<std::unique_ptr<TaskRegistry>> TaskRegistry::Create(const std::string& data_dir) {
  auto reg = std::make_unique<TaskRegistry>();
  auto add = [&](Result<std::unique_ptr<Task>> t) -> Status {
    if (!t.ok()) return t.status();
    if (*t) reg->Add(std::move(t).value());
    return Status::OK();
  };
  CS_RETURN_IF_ERROR(add(MakeNumberMultiplyTask()));
  CS_RETURN_IF_ERROR(add(MakeGame24Task(data_dir)));
  CS_RETURN_IF_ERROR(add(MakePathPlanTask(data_dir)));
  CS_RETURN_IF_ERROR(add(MakeLettersTask(data_dir)));
  CS_RETURN_IF_ERROR(add(MakeBoxLiftTask()));
  CS_RETURN_IF_ERROR(add(MakeBoxNetTask()));
  CS_RETURN_IF_ERROR(add(MakeBlocksworldTask()));
  for (const char* subset :
       {"date_understanding", "web_of_lies", "logical_deduction_seven_objects", "navigate"}) {
    CS_RETURN_IF_ERROR(add(MakeBbhTask(data_dir, subset)));
  }
  CS_RETURN_IF_ERROR(add(MakeGsmHardTask(data_dir)));
  CS_RETURN_IF_ERROR(add(MakeMathTask(data_dir, "geometry")));
  CS_RETURN_IF_ERROR(add(MakeMathTask(data_dir, "counting_and_probability")));
  return reg;
}

const Task* TaskRegistry::Find(std::string_view name) const {
  for (const auto& t : tasks_) {
    if (t->name() == name) return t.get();
  }
  return nullptr;
}

std::string_view AnswerSourceName(AnswerSource source) {
  switch (source) {
    case AnswerSource::kTags:
      return "tags";
    case AnswerSource::kFallback:
      return "fallback";
    case AnswerSource::kNone:
      break;
  }
  return "none";
}

int TaskVersion(std::string_view task_name) {
  // Version 2 (issue 19): the original's prompts for game24 and letters, and a seeded
  // permutation of the items for every dataset task.
  static constexpr std::string_view kBumped[] = {"game24",
                                                 "letters",
                                                 "path_plan",
                                                 "gsm_hard",
                                                 "math_geometry",
                                                 "math_counting_and_probability",
                                                 "bbh_date_understanding",
                                                 "bbh_web_of_lies",
                                                 "bbh_logical_deduction_seven_objects",
                                                 "bbh_navigate"};
  for (std::string_view name : kBumped) {
    if (name == task_name) return 2;
  }
  return 1;
}

std::string DefaultDataDir() { return std::string(CODESWEEP_SOURCE_DIR) + "/data"; }

}  // namespace codesweep
