// Small helpers shared by the CLI commands: loading the task registry and a sweep file, and
// printing a Status as a one-line error. Used only from main's thread.
#pragma once

#include <memory>
#include <string>

#include "base/status.h"
#include "coordinator/sweep/sweep_file.h"
#include "jobs/tasks/task.h"

namespace codesweep {

// Prints "codesweep <command>: <status message>" to stderr and returns `exit_code`.
int PrintError(const std::string& command, const Status& status, int exit_code = 1);

// The data directory: --data-dir if given, else $CODESWEEP_DATA_DIR, else the built-in default.
std::string ResolveDataDir(const std::string& flag_value);

// Loads the task registry from the resolved data directory.
Result<std::unique_ptr<TaskRegistry>> LoadTasks(const std::string& data_dir_flag);

// "<dir>/<stem>.db" for a sweep file path ("examples/quickstart.toml" -> "quickstart.db").
std::string DefaultDbPath(const std::string& sweep_path);

}  // namespace codesweep
