// The set-up `run` and `coordinator` share: their common flags, loading a sweep into its database
// (parse, size check, grid load) and the signal handling around the load and the coordinator.
// Everything here runs on main's thread, except StopSignals' handler, which runs on its own
// signal thread and only sets a flag or calls Coordinator::Stop().
#pragma once

#include <CLI/CLI.hpp>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "coordinator/coordinator.h"
#include "coordinator/store/store.h"
#include "coordinator/sweep/grid.h"
#include "coordinator/sweep/sweep_file.h"
#include "jobs/tasks/task.h"
#include "worker/runtime.h"

namespace codesweep {

// What the CLI fills in for `run` and `coordinator` before a sweep is loaded and served.
struct SweepSetupOptions {
  std::string sweep_file;                // the sweep (TOML); required
  std::string db;                        // the database file; required by the time Validate() runs
  int64_t max_cells = kDefaultMaxCells;  // --max-cells: a larger grid is refused before loading
  CoordinatorOptions core;               // sweep_id is filled in by LoadSweep when exit_when_done
  std::string command = "run";           // recorded with the run's provenance (table runs)
  Status Validate() const;
};

// Adds the flags both commands take: --max-cells, --no-cache, --rate-burst-s.
void AddSweepSetupFlags(CLI::App& sub, SweepSetupOptions* options);

// A sweep loaded into its open database, ready to be served.
struct LoadedSweep {
  SweepConfig config;
  std::unique_ptr<Store> store;
  ExpandStats grid;
  CoordinatorOptions core;  // options.core, with sweep_id set when exit_when_done
};

// Parses options.sweep_file, refuses it past max_cells (before the database is touched), opens
// options.db and loads the grid, committing it in batches, then records the run's provenance.
// `cancel` (set from the signal thread) stops the load within a second (a commit under way ends
// first): the batch in flight is rolled back and the batches committed before stay, so no sweep is
// left without jobs and the next load adds the rest. `log` (may be null; must outlive the store)
// receives the SQL of a failed statement.
Result<LoadedSweep> LoadSweep(const SweepSetupOptions& options, const TaskRegistry& tasks,
                              const std::atomic<bool>* cancel, Logger* log);

// SIGINT/SIGTERM for a command that loads a grid and then serves it: before Serve() they set
// cancelled() (which stops a grid load), during Serve() they stop the coordinator. Any other
// signal in `signals` goes to `on_other` with the coordinator being served (or nullptr).
// Construct it before any other thread starts, so every thread inherits the blocked mask.
class StopSignals {
 public:
  using OtherHandler = std::function<void(int, Coordinator*)>;
  explicit StopSignals(OtherHandler on_other = nullptr,
                       std::vector<int> signals = {SIGINT, SIGTERM});
  const std::atomic<bool>* cancelled() const { return &cancelled_; }
  // Runs `coord` until it stops. A stop signal that came before stops it at once.
  Status Serve(Coordinator& coord);

 private:
  void OnSignal(int sig);

  OtherHandler on_other_;
  std::atomic<bool> cancelled_{false};
  std::mutex mu_;
  Coordinator* serving_ = nullptr;  // guarded by mu_
  SignalWatcher watcher_;           // last: its thread starts once the fields above exist
};

}  // namespace codesweep
