// The set-up shared by `run` and `coordinator` (see sweep_setup.h).
#include "tools/codesweep/sweep_setup.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <utility>

#include "base/hash.h"
#include "build_info.h"
#include "coordinator/sweep/declared_tasks.h"
#include "jobs/tasks/task.h"

namespace codesweep {

namespace {

constexpr int64_t kLoadNoticeCells = 1'000'000;  // larger loads say so before they start

}  // namespace

Status SweepSetupOptions::Validate() const {
  if (sweep_file.empty()) return Status::InvalidArgument("no sweep file given");
  if (db.empty()) return Status::InvalidArgument("no database file given (--db)");
  if (max_cells < 1) return Status::InvalidArgument("--max-cells must be >= 1");
  return core.Validate();
}

void AddSweepSetupFlags(CLI::App& sub, SweepSetupOptions* options) {
  sub.add_option("--max-cells", options->max_cells,
                 "Refuse a grid of more cells than this (it says how large the grid is)")
      ->capture_default_str();
  sub.add_flag_callback(
      "--no-cache", [options] { options->core.use_cache = false; },
      "Send every LLM call, even one with a stored response");
  sub.add_option_function<double>(
      "--rate-burst-s",
      [options](double s) { options->core.rate.burst_ms = static_cast<int64_t>(s * 1000); },
      "Rate-limit bucket capacity, in seconds of the model's limits (default 60)");
}

namespace {

// What `run` or `coordinator` records about itself when it starts serving a sweep.
RunRecord Provenance(const std::string& command, const LoadedSweep& sweep) {
  RunRecord r;
  r.sweep_id = sweep.grid.sweep_id;
  r.command = command;
  r.version = CODESWEEP_VERSION;
  r.git_commit = CODESWEEP_GIT_COMMIT;
  r.sweep_sha256 = Sha256Hex(sweep.config.text);
  char host[256] = {};
  if (gethostname(host, sizeof(host) - 1) == 0) r.host = host;
  r.pid = getpid();
  return r;
}

}  // namespace

Result<LoadedSweep> LoadSweep(const SweepSetupOptions& options, const TaskRegistry& tasks,
                              const std::atomic<bool>* cancel, Logger* log) {
  CS_RETURN_IF_ERROR(options.Validate());
  LoadedSweep out;
  CS_ASSIGN_OR_RETURN(out.config, LoadSweepFile(options.sweep_file, tasks));
  const int64_t cells = GridSize(out.config);
  CS_RETURN_IF_ERROR(CheckGridSize(out.config, options.max_cells));
  StoreOptions store_options;
  store_options.log = log;
  CS_ASSIGN_OR_RETURN(out.store, Store::Open(options.db, store_options));
  if (cells > kLoadNoticeCells) {
    std::fprintf(stderr, "sweep %s: loading %s cells into %s (SIGINT/SIGTERM stop the load)\n",
                 out.config.name.c_str(), FormatCount(cells).c_str(), options.db.c_str());
  }
  ExpandOptions expand;
  expand.cancel = cancel;
  CS_ASSIGN_OR_RETURN(out.grid, ExpandIntoStore(out.config, *out.store, expand));
  CS_RETURN_IF_ERROR(out.store->RecordRun(Provenance(options.command, out)));
  out.core = options.core;
  // Batch mode: the coordinator talks to the batch endpoints with the models' API keys.
  out.core.batch.get_secret = [](const std::string& name) -> std::optional<std::string> {
    const char* v = std::getenv(name.c_str());
    if (v == nullptr) return std::nullopt;
    return std::string(v);
  };
  out.core.batch.prices_path = DefaultDataDir() + "/prices.json";
  if (out.core.exit_when_done) out.core.sweep_id = out.grid.sweep_id;
  BudgetOptions& budget = out.core.budget;
  budget.sweep_id = out.grid.sweep_id;
  budget.max_cost_usd = out.config.max_cost_usd;
  budget.max_tokens_total = out.config.max_tokens_total;
  for (const ModelConfig& m : out.config.models) {
    if (m.max_cost_usd) budget.model_max_cost_usd[m.spec.id] = *m.max_cost_usd;
  }
  auto declared = std::make_shared<const DeclaredCatalog>(out.config);
  if (!declared->empty()) out.core.declared = std::move(declared);
  return out;
}

StopSignals::StopSignals(OtherHandler on_other, std::vector<int> signals)
    : on_other_(std::move(on_other)),
      watcher_([this](int sig) { OnSignal(sig); }, std::move(signals)) {}

void StopSignals::OnSignal(int sig) {
  std::lock_guard<std::mutex> lock(mu_);
  if (sig != SIGINT && sig != SIGTERM) {
    if (on_other_) on_other_(sig, serving_);
    return;
  }
  cancelled_.store(true);
  if (serving_ != nullptr) serving_->Stop();
}

Status StopSignals::Serve(Coordinator& coord) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    serving_ = &coord;
    if (cancelled_.load()) coord.Stop();
  }
  Status s = coord.Run();
  std::lock_guard<std::mutex> lock(mu_);
  serving_ = nullptr;
  return s;
}

}  // namespace codesweep
