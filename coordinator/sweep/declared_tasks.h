// Declared tasks in sweep files (issue 15, docs/tasks.md): a [[tasks]] entry with a `dataset`
// declares a task inline; one with `file = "tasks/x.toml"` includes a task file (a path relative
// to the including file). Either becomes a TaskConfig that the grid treats like a built-in task,
// whose samples are dataset rows named by their content (RowSampleKey). DeclaredCatalog is what
// dispatch needs to send such jobs to workers that have no dataset file: the task's definition
// and the job's one row. Immutable after construction; safe to share between threads.
#pragma once

#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "base/status.h"
#include "coordinator/sweep/sweep_file.h"
#include "schema/types.h"

namespace codesweep {

class DeclaredTask;

// True when a [[tasks]] entry declares a task (has `dataset` or `file`) rather than naming a
// built-in one.
bool IsDeclaredTaskEntry(const nlohmann::json& entry);

// Reads one declaring [[tasks]] entry (the TOML table as JSON) and appends its tasks to `out`:
// the declaration is parsed and every dataset row checked (DeclaredTask::Create). Grid keys of
// the entry: samples (a count or "all"), first_sample, run_levels (the complexity levels to run;
// default all; `levels` is refused, kLevelsIsAmbiguous). `where` prefixes errors ("sweep.toml:12:
// tasks[0]"); `sweep_path` resolves relative paths. Built-in names are refused (`builtin` knows
// them).
Status ParseDeclaredTaskEntry(const nlohmann::json& entry, const std::string& where,
                              const std::string& sweep_path, const TaskRegistry& builtin,
                              std::vector<TaskConfig>& out);

// Once the sweep's models are known: checks each judge scorer's model is one of them and
// builds each declared task's wire definition (TaskConfig::declared_wire).
Status FinishDeclaredTasks(SweepConfig& config);

// The number of cells one level of a declared task gives (its samples capped at its rows).
int64_t DeclaredSampleCount(const SweepConfig& config, const TaskConfig& task,
                            const std::string& level);

// What `validate --json` and the sweeps table show of a declared task: its dataset, row count,
// levels and definition hash.
nlohmann::json DeclaredTaskJson(const DeclaredTask& task);

class DeclaredCatalog {
 public:
  explicit DeclaredCatalog(const SweepConfig& config);
  bool empty() const { return tasks_.empty(); }
  // For a job of one of the sweep's declared tasks, sets spec.task_def and spec.task_row (the
  // row read from the dataset now). Other jobs are left as they are. NotFound when the job's
  // row is no longer in the dataset (the file was edited since the job was made).
  Status Fill(JobSpec& spec) const;

 private:
  struct Entry {
    std::shared_ptr<const DeclaredTask> task;
    std::string wire;
  };
  std::string sweep_;
  std::map<std::string, Entry, std::less<>> tasks_;
};

}  // namespace codesweep
