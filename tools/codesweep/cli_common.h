// Small helpers shared by the CLI commands: loading the task registry and a sweep file, and
// printing a Status as a one-line error. Used only from main's thread.
#pragma once

#include <CLI/CLI.hpp>
#include <memory>
#include <string>

#include "base/status.h"
#include "coordinator/store/read_filter.h"
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

// ---- read commands (status, report, show, cache, export): database, filters, version ----

// The database a read command opens: `--db FILE`, else the one `run SWEEP.toml` uses
// (DefaultDbPath of the sweep file given as an argument).
struct ReadDb {
  std::string db;          // --db
  std::string sweep_file;  // SWEEP.toml argument
};

// Adds --db and, unless `positional` is false, a SWEEP.toml argument.
void AddReadDbOptions(CLI::App& sub, ReadDb* target, bool positional = true);

// The database path to open; "no such file" (NotFound) when it does not exist, InvalidArgument
// when neither --db nor a sweep file was given.
Result<std::string> ResolveReadDb(const ReadDb& target);

// Adds --task, --model and --method (each one value or a comma-separated list).
void AddReadFilterOptions(CLI::App& sub, ReadFilter* filter);

// "0.2.0 (git 1a2b3c4d5e6f)", or without the commit when built outside git.
std::string VersionString();

}  // namespace codesweep
