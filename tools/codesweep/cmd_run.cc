// `codesweep run SWEEP.toml [--db FILE] [--workers N] [--slots N] [--task/--model/--method NAME]
// [--limit N]`: expand the sweep, run it (or the filtered part of it) with an embedded
// coordinator and N worker loops over inproc (the same classes as the distributed case), show
// live progress, then a per-(task, model, method) summary.
#include <unistd.h>

#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "coordinator/coordinator.h"
#include "coordinator/store/report_queries.h"
#include "tools/codesweep/cli_common.h"
#include "tools/codesweep/commands.h"
#include "tools/codesweep/sweep_setup.h"
#include "worker/runtime.h"
#include "worker/worker.h"

namespace codesweep {

namespace {

struct RunFlags {
  SweepSetupOptions setup;
  int workers = 4;  // local worker loops
  int slots = 1;    // slots per worker loop
  bool quiet = false;
  CellFilter filter;  // which cells this run dispatches (all by default)
  Status Validate() const {
    if (workers < 1 || slots < 1) {
      return Status::InvalidArgument(
          Str("--workers and --slots must be >= 1, got ", workers, " and ", slots));
    }
    return setup.Validate();
  }
};

int Fail(const Status& s) {
  std::fprintf(stderr, "codesweep run: %s\n", s.message().c_str());
  return 1;
}

// A signal stopped the grid load.
int Interrupted(const Status& s) {
  std::fprintf(stderr, "codesweep run: interrupted: %s\n", s.message().c_str());
  return 130;
}

std::string Eta(double secs) {
  if (secs < 0) return "--";
  int s = static_cast<int>(secs);
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%d:%02d:%02d", s / 3600, (s / 60) % 60, s % 60);
  return buf;
}

// Live progress: one \r line on a terminal, a log line every 5 s otherwise.
std::function<void(const Progress&)> ProgressPrinter(bool quiet) {
  bool tty = isatty(fileno(stderr));
  auto last = std::make_shared<SteadyTime>();
  return [tty, quiet, last](const Progress& p) {
    if (quiet) return;
    SteadyTime now = std::chrono::steady_clock::now();
    if (!tty && now - *last < std::chrono::seconds(5) && p.terminal < p.total) return;
    *last = now;
    std::fprintf(stderr, "%s%lld/%lld cells  %.0f cells/s  ETA %s  failures %lld%s",
                 tty ? "\r" : "", static_cast<long long>(p.terminal),
                 static_cast<long long>(p.total), p.rate_per_s, Eta(p.eta_s).c_str(),
                 static_cast<long long>(p.failures), tty ? "   " : "\n");
    std::fflush(stderr);
  };
}

void PrintSummary(const std::string& db, const std::string& sweep) {
  Result<std::unique_ptr<ReportDb>> report = ReportDb::Open(db);
  if (!report.ok()) return;
  Result<std::vector<GrainRow>> rows = (*report)->Grain(sweep);
  if (!rows.ok()) return;
  std::map<std::tuple<std::string, std::string, std::string>, GrainRow> agg;
  for (const GrainRow& r : *rows) {
    GrainRow& a = agg[{r.task, r.model, r.method}];
    a.n += r.n;
    a.correct += r.correct;
    a.code_used += r.code_used;
  }
  std::printf("\n%-18s %-28s %-22s %7s %8s %7s %9s\n", "task", "model", "method", "n", "correct",
              "%", "code used");
  for (const auto& [key, a] : agg) {
    const auto& [task, model, method] = key;
    std::string label = model.rfind("sim:", 0) == 0 ? model + " (simulated)" : model;
    double pct = a.n ? 100.0 * static_cast<double>(a.correct) / static_cast<double>(a.n) : 0;
    std::printf("%-18s %-28s %-22s %7lld %8lld %6.1f%% %9lld\n", task.c_str(), label.c_str(),
                method.c_str(), static_cast<long long>(a.n), static_cast<long long>(a.correct), pct,
                static_cast<long long>(a.code_used));
  }
}

// Starts `workers` local worker loops on their own threads, connected to `endpoint`.
class LocalWorkers {
 public:
  LocalWorkers(const RunFlags& f, const std::string& endpoint, WireContext& ctx, const Clock& clock,
               Logger& log, const JobRunner& runner) {
    for (int i = 0; i < f.workers; ++i) {
      WorkerOptions wo;
      wo.connect = endpoint;
      wo.worker_id = Str("local-", i);
      wo.slots = f.slots;
      wo.drain_timeout_ms = 2'000;
      workers_.push_back(std::make_unique<Worker>(ctx, clock, log, wo, runner));
      threads_.emplace_back([w = workers_.back().get()] { (void)w->Run(); });
    }
  }
  ~LocalWorkers() {
    for (auto& w : workers_) w->Stop();
    for (std::thread& t : threads_) t.join();
  }

 private:
  std::vector<std::unique_ptr<Worker>> workers_;
  std::vector<std::thread> threads_;
};

// Restricts the run to the filter's cells (checked against the sweep, so a typo is an error).
Status ApplyFilter(const CellFilter& filter, LoadedSweep& sweep) {
  if (filter.empty()) return Status::OK();
  CS_RETURN_IF_ERROR(filter.CheckAgainst(sweep.config));
  std::map<std::string, int64_t> first_samples;
  for (const TaskConfig& t : sweep.config.tasks) first_samples[t.name] = t.first_sample;
  sweep.core.job_scope_sql = filter.ToSqlWhere("jobs", first_samples);
  return Status::OK();
}

// Serves the loaded sweep to local workers until it is done or a signal stops it.
int Serve(const RunFlags& f, LoadedSweep& sweep, StopSignals& signals, const JobRunner& runner,
          Logger& log) {
  SystemClock clock;
  WireContext ctx;
  CoordinatorLoopOptions lo;
  lo.core = sweep.core;
  lo.on_progress = ProgressPrinter(f.quiet);
  ClusterRateLimiter limiter(lo.core.rate);
  Coordinator coord(*sweep.store, ctx, clock, log, lo, &limiter);
  const std::string endpoint = Str("inproc://codesweep-run-", getpid());
  Status s = coord.Bind(endpoint);
  if (!s.ok()) return Fail(s);
  {
    LocalWorkers workers(f, endpoint, ctx, clock, log, runner);
    s = signals.Serve(coord);
  }
  if (!f.quiet) std::fprintf(stderr, "\n");
  if (!s.ok()) return Fail(s);
  Progress p = coord.progress();
  if (p.terminal < p.total) {
    std::printf("interrupted: %lld/%lld cells finished; run again to resume\n",
                static_cast<long long>(p.terminal), static_cast<long long>(p.total));
    return 130;
  }
  PrintSummary(f.setup.db, sweep.config.name);
  return 0;
}

}  // namespace

CommandAction SetupRunCommand(CLI::App& sub) {
  auto f = std::make_shared<RunFlags>();
  f->setup.core.exit_when_done = true;
  f->setup.core.restart_grace_ms = 0;  // no outside workers can hold our leases
  f->setup.core.requeue_backoff_ms = 100;
  sub.add_option("sweep", f->setup.sweep_file, "Sweep file (TOML)")->required();
  sub.add_option("--db", f->setup.db, "Database file (default: <sweep file stem>.db here)");
  sub.add_option("--workers", f->workers, "Local worker loops")->capture_default_str();
  sub.add_option("--slots", f->slots, "Slots per worker loop")->capture_default_str();
  sub.add_flag("-q,--quiet", f->quiet, "No progress line");
  AddSweepSetupFlags(sub, &f->setup);
  CellFilter::AddFlags(sub, &f->filter);
  return [f]() -> int {
    Logger log(stderr, LogLevel::kWarn, "run");
    StopSignals signals;
    if (f->setup.db.empty()) f->setup.db = DefaultDbPath(f->setup.sweep_file);
    if (Status valid = f->Validate(); !valid.ok()) return Fail(valid);
    RuntimeOptions ro;
    ro.env = EnvironmentSecrets(&log);
    Result<std::unique_ptr<JobRuntime>> rt = JobRuntime::Create(ro, log);
    if (!rt.ok()) return Fail(rt.status());
    Result<LoadedSweep> sweep = LoadSweep(f->setup, (*rt)->tasks(), signals.cancelled(), &log);
    if (!sweep.ok())
      return signals.cancelled()->load() ? Interrupted(sweep.status()) : Fail(sweep.status());
    if (Status s = ApplyFilter(f->filter, *sweep); !s.ok()) return Fail(s);
    const ExpandStats& grid = sweep->grid;
    Result<JobCounts> counts =
        sweep->store->CountJobStates(grid.sweep_id, sweep->core.job_scope_sql);
    if (!counts.ok()) return Fail(counts.status());
    std::printf("sweep %s: %lld cells (%lld new), database %s\n", sweep->config.name.c_str(),
                static_cast<long long>(grid.total), static_cast<long long>(grid.inserted),
                f->setup.db.c_str());
    if (!f->filter.empty()) {
      std::printf("filtered: %lld of the cells selected\n", static_cast<long long>(counts->total));
    }
    std::fflush(stdout);
    if (counts->pending + counts->leased == 0) {
      std::printf("nothing to run: all %lld cells are already finished\n",
                  static_cast<long long>(counts->total));
      PrintSummary(f->setup.db, sweep->config.name);
      return 0;
    }
    return Serve(*f, *sweep, signals, (*rt)->runner(), log);
  };
}

}  // namespace codesweep
