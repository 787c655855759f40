// The codesweep subcommands. Each Setup*Command adds its options to a CLI11 subcommand and
// returns the action main() runs when that subcommand is chosen (its result is the exit code).
// main.cc holds the one table of subcommands; each command lives in its own cmd_*.cc.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>

namespace codesweep {

using CommandAction = std::function<int()>;

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
CommandAction SetupExportCommand(CLI::App& sub);       // cmd_export.cc

}  // namespace codesweep
