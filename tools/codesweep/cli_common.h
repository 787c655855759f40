// Small helpers shared by the CLI commands: loading the task registry and a sweep file, and
// printing a Status as a one-line error. Used only from main's thread.
#pragma once

#include <CLI/CLI.hpp>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "coordinator/store/read_filter.h"
#include "coordinator/sweep/sweep_file.h"
#include "jobs/tasks/task.h"

namespace codesweep {

// Prints "codesweep <command>: <status message>" to stderr and returns `exit_code`.
int PrintError(const std::string& command, const Status& status, int exit_code = 1);

// The data directory: --data-dir if given, else $CODESWEEP_DATA_DIR, else the built-in default.
std::string ResolveDataDir(const std::string& flag_value);

// The task registry of the resolved data directory, lazy: a task is built when a sweep file or a
// job names it (TaskRegistry::CreateLazy).
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

// Which cells a command works on: --task, --model, --method (each repeatable, or a comma list)
// and --limit N (the first N samples of each task at each level). Empty lists match everything.
struct CellFilter {
  std::vector<std::string> tasks;
  std::vector<std::string> models;  // a full id ("openai:gpt-4o") or the name after the ':'
  std::vector<std::string> methods;
  int64_t limit = 0;  // 0 = every sample

  // Adds --task, --model, --method and --limit to `sub`, filling `filter`.
  static void AddFlags(CLI::App& sub, CellFilter* filter);
  // Takes one flag by name ("task", "model", "method" or "limit") and its value; a bad value
  // (an empty name, a limit that is not a positive integer) is InvalidArgument.
  Status ParseFlag(std::string_view flag, std::string_view value);
  bool empty() const { return tasks.empty() && models.empty() && methods.empty() && limit == 0; }
  // Refuses names the sweep does not have (a typo would otherwise select nothing).
  Status CheckAgainst(const SweepConfig& config) const;
  // A SQL condition over the jobs table (named `jobs_alias` in the query) that selects the
  // filtered cells, or "" when the filter is empty. Names are quoted as SQL literals. With a
  // limit, `first_samples` gives each task's first sample index (missing: 0).
  std::string ToSqlWhere(const std::string& jobs_alias = "jobs",
                         const std::map<std::string, int64_t>& first_samples = {}) const;
};

}  // namespace codesweep
