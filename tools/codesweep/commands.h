// The codesweep subcommands. Each Setup*Command adds its options to a CLI11 subcommand and
// returns the action main() runs when that subcommand is chosen (its result is the exit code).
// main.cc holds the one table of subcommands; each command lives in its own cmd_*.cc.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

namespace codesweep {

class Store;

using CommandAction = std::function<int()>;

// Steps another command adds to `run` (cmd_run.cc); a value returned ends the command with that
// exit status. Used by `retry`.
struct RunHooks {
  // Before the sweep is loaded, with the sweep file and database paths (retry --dry-run).
  std::function<std::optional<int>(const std::string& sweep_file, const std::string& db)>
      before_load;
  // On the loaded sweep, before it is served (retry puts its cells back here).
  std::function<std::optional<int>(Store& store, int64_t sweep_id)> before_serve;
  // run's --task/--model/--method/--limit (CellFilter); retry has its own selection flags.
  bool cell_filter_flags = true;
};
// Adds run's flags to `sub`; the action runs the sweep as `run` does, with `hooks`.
CommandAction SetupRunFlags(CLI::App& sub, RunHooks hooks);

CommandAction SetupRunCommand(CLI::App& sub);          // cmd_run.cc
CommandAction SetupCoordinatorCommand(CLI::App& sub);  // cmd_coordinator.cc
CommandAction SetupWorkerCommand(CLI::App& sub);       // cmd_worker.cc
CommandAction SetupValidateCommand(CLI::App& sub);     // cmd_validate.cc
CommandAction SetupStatusCommand(CLI::App& sub);       // cmd_status.cc
CommandAction SetupTasksCommand(CLI::App& sub);        // cmd_tasks.cc
CommandAction SetupExecCommand(CLI::App& sub);         // cmd_exec.cc
CommandAction SetupCacheCommand(CLI::App& sub);        // cmd_cache.cc
CommandAction SetupReportCommand(CLI::App& sub);       // cmd_report.cc
CommandAction SetupShowCommand(CLI::App& sub);         // cmd_show.cc
CommandAction SetupKeygenCommand(CLI::App& sub);       // cmd_keygen.cc
CommandAction SetupViewCommand(CLI::App& sub);         // cmd_view.cc
CommandAction SetupRetryCommand(CLI::App& sub);        // cmd_retry.cc
CommandAction SetupSubmitCommand(CLI::App& sub);       // cmd_submit.cc
CommandAction SetupExportCommand(CLI::App& sub);       // cmd_export.cc
CommandAction SetupBatchesCommand(CLI::App& sub);      // cmd_batches.cc

}  // namespace codesweep
