// `codesweep run SWEEP.toml [--db FILE] [--workers N] [--slots N] [--task/--model/--method NAME]
// [--limit N]`: expand the sweep, run it (or the filtered part of it) with an embedded
// coordinator and N worker loops over inproc (the same classes as the distributed case), show
// live progress, then a per-(task, model, method) summary with failed and dead cells. The exit
// status says how it ended (kExit* below, docs/operations.md). `retry` runs through here.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <optional>
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

// Exit statuses of `run` and `retry` (docs/operations.md "Exit status").
constexpr int kExitDone = 0;           // every cell has a verdict
constexpr int kExitError = 1;          // bad input, database or engine error
constexpr int kExitFailedCells = 3;    // every cell finished, some failed or dead
constexpr int kExitBudget = 4;         // a budget stopped the sweep with cells left
constexpr int kExitInterrupted = 130;  // SIGINT/SIGTERM; run again to resume

struct RunFlags {
  SweepSetupOptions setup;
  int workers = 4;  // local worker loops
  int slots = 1;    // slots per worker loop; kMeteredSlots by default when a model is metered
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

// Default slots per worker loop for a sweep with a metered (real API) model: 4 x 8 = 32 calls
// in flight, which the rate limits of each model (rpm, tpm, max_concurrency) still cap. A sweep
// of sim models only keeps 1 (its sandboxed code competes for CPU).
constexpr int kMeteredSlots = 8;

bool HasMeteredModel(const SweepConfig& config) {
  for (const ModelConfig& m : config.models) {
    if (m.spec.provider != "sim") return true;
  }
  return false;
}

int Fail(const Status& s) {
  std::fprintf(stderr, "codesweep run: %s\n", s.message().c_str());
  return kExitError;
}

// A signal stopped the grid load.
int Interrupted(const Status& s) {
  std::fprintf(stderr, "codesweep run: interrupted: %s\n", s.message().c_str());
  return kExitInterrupted;
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

// Failed and dead cells per (task, model, method) with the most common error.
struct FailureCounts {
  int64_t failed = 0, dead = 0, top_count = 0;
  std::string top_error;
};
using CellGroup = std::tuple<std::string, std::string, std::string>;  // task, model, method

std::string SqlQuote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("''") : std::string(1, c);
  return out + "'";
}

std::map<CellGroup, FailureCounts> Failures(ReportDb& report, const std::string& sweep) {
  const std::string sql =
      "WITH f AS (SELECT j.task, v.model, j.method, j.state, j.last_error AS err FROM jobs j"
      " JOIN sweeps s ON s.id = j.sweep_id JOIN variants v ON v.id = j.variant_id"
      " WHERE s.name = " +
      SqlQuote(sweep) +
      " AND j.state IN ('failed', 'dead')),"
      " e AS (SELECT task, model, method, err, count(*) AS n FROM f"
      " GROUP BY task, model, method, err),"
      " top AS (SELECT task, model, method, err, n, row_number() OVER (PARTITION BY task, model,"
      " method ORDER BY n DESC, err) AS k FROM e)"
      " SELECT f.task, f.model, f.method, sum(f.state = 'failed'), sum(f.state = 'dead'),"
      " t.err, t.n FROM f JOIN top t ON t.task = f.task AND t.model = f.model"
      " AND t.method = f.method AND t.k = 1 GROUP BY f.task, f.model, f.method";
  std::map<CellGroup, FailureCounts> out;
  Result<QueryTable> t = report.Query(sql);
  if (!t.ok()) return out;
  auto col = [](const std::vector<std::optional<std::string>>& row, size_t i) {
    return i < row.size() && row[i] ? *row[i] : std::string();
  };
  for (const auto& row : t->rows) {
    FailureCounts& f = out[{col(row, 0), col(row, 1), col(row, 2)}];
    f.failed = std::atoll(col(row, 3).c_str());
    f.dead = std::atoll(col(row, 4).c_str());
    f.top_error = col(row, 5);
    f.top_count = std::atoll(col(row, 6).c_str());
  }
  return out;
}

// One line of an error, at most `max` bytes.
std::string Shorten(std::string s, size_t max = 100) {
  for (char& c : s) {
    if (c == '\n' || c == '\r' || c == '\t') c = ' ';
  }
  return s.size() <= max ? s : s.substr(0, max - 3) + "...";
}

// The per-(task, model, method) table; returns how many cells ended failed or dead.
int64_t PrintSummary(const std::string& db, const std::string& sweep,
                     const std::string& sweep_file) {
  Result<std::unique_ptr<ReportDb>> report = ReportDb::Open(db);
  if (!report.ok()) return 0;
  Result<std::vector<GrainRow>> rows = (*report)->Grain(sweep);
  if (!rows.ok()) return 0;
  std::map<CellGroup, GrainRow> agg;
  for (const GrainRow& r : *rows) {
    GrainRow& a = agg[{r.task, r.model, r.method}];
    a.n += r.n;
    a.correct += r.correct;
    a.code_used += r.code_used;
  }
  std::map<CellGroup, FailureCounts> failures = Failures(**report, sweep);
  for (const auto& [key, f] : failures) agg[key];  // groups with no verdict at all
  std::printf("\n%-18s %-28s %-22s %7s %8s %7s %9s %7s %6s\n", "task", "model", "method", "n",
              "correct", "%", "code used", "failed", "dead");
  int64_t bad = 0;
  for (const auto& [key, a] : agg) {
    const auto& [task, model, method] = key;
    std::string label = model.rfind("sim:", 0) == 0 ? model + " (simulated)" : model;
    double pct = a.n ? 100.0 * static_cast<double>(a.correct) / static_cast<double>(a.n) : 0;
    auto f = failures.find(key);
    FailureCounts fc = f == failures.end() ? FailureCounts{} : f->second;
    bad += fc.failed + fc.dead;
    std::printf("%-18s %-28s %-22s %7lld %8lld %6.1f%% %9lld %7lld %6lld\n", task.c_str(),
                label.c_str(), method.c_str(), static_cast<long long>(a.n),
                static_cast<long long>(a.correct), pct, static_cast<long long>(a.code_used),
                static_cast<long long>(fc.failed), static_cast<long long>(fc.dead));
  }
  if (bad == 0) return 0;
  std::printf("\nmost common error of the failed and dead cells:\n");
  for (const auto& [key, f] : failures) {
    const auto& [task, model, method] = key;
    std::printf("  %s %s %s: %lldx %s\n", task.c_str(), model.c_str(), method.c_str(),
                static_cast<long long>(f.top_count),
                f.top_error.empty() ? "(no error recorded)" : Shorten(f.top_error).c_str());
  }
  std::printf("%lld cells failed or dead; after fixing the cause: codesweep retry %s --db %s\n",
              static_cast<long long>(bad), sweep_file.c_str(), db.c_str());
  return bad;
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

int Finish(const RunFlags& f, const std::string& sweep, int64_t left, const std::string& stopped);

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
  if (p.terminal < p.total && !p.budget_stopped) {
    std::printf("interrupted: %lld/%lld cells finished; run again to resume\n",
                static_cast<long long>(p.terminal), static_cast<long long>(p.total));
    return kExitInterrupted;
  }
  return Finish(f, sweep.config.name, p.total - p.terminal, p.budget_stopped ? p.stopped : "");
}

// The summary and the exit status once the sweep is served (or had nothing to run).
int Finish(const RunFlags& f, const std::string& sweep, int64_t left, const std::string& stopped) {
  int64_t bad = PrintSummary(f.setup.db, sweep, f.setup.sweep_file);
  if (left > 0 && !stopped.empty()) {
    std::printf(
        "stopped with %lld cells not run: %s\nraise the budget in %s and run again to "
        "continue\n",
        static_cast<long long>(left), stopped.c_str(), f.setup.sweep_file.c_str());
    return kExitBudget;
  }
  return bad > 0 ? kExitFailedCells : kExitDone;
}

}  // namespace

CommandAction SetupRunCommand(CLI::App& sub) { return SetupRunFlags(sub, RunHooks{}); }

CommandAction SetupRunFlags(CLI::App& sub, RunHooks hooks) {
  auto f = std::make_shared<RunFlags>();
  f->setup.core.exit_when_done = true;
  f->setup.core.restart_grace_ms = 0;  // no outside workers can hold our leases
  f->setup.core.requeue_backoff_ms = 100;
  sub.add_option("sweep", f->setup.sweep_file, "Sweep file (TOML)")->required();
  sub.add_option("--db", f->setup.db, "Database file (default: <sweep file stem>.db here)");
  sub.add_option("--workers", f->workers, "Local worker loops")->capture_default_str();
  sub.add_option("--slots", f->slots,
                 "Slots per worker loop (default 1; 8 when a model is a real API: 32 calls in "
                 "flight, still capped by each model's rate limits)");
  sub.add_flag("-q,--quiet", f->quiet, "No progress line");
  AddSweepSetupFlags(sub, &f->setup);
  if (hooks.cell_filter_flags) CellFilter::AddFlags(sub, &f->filter);
  return [f, &sub, hooks = std::move(hooks)]() -> int {
    Logger log(stderr, LogLevel::kWarn, "run");
    StopSignals signals;
    if (f->setup.db.empty()) f->setup.db = DefaultDbPath(f->setup.sweep_file);
    if (Status valid = f->Validate(); !valid.ok()) return Fail(valid);
    if (hooks.before_load) {
      if (std::optional<int> rc = hooks.before_load(f->setup.sweep_file, f->setup.db)) return *rc;
    }
    RuntimeOptions ro;
    ro.env = EnvironmentSecrets(&log);
    ro.sandbox_in_background = true;  // its probe overlaps the sweep's load; Ready() before serving
    Result<std::unique_ptr<JobRuntime>> rt = JobRuntime::Create(ro, log);
    if (!rt.ok()) return Fail(rt.status());
    Result<LoadedSweep> sweep = LoadSweep(f->setup, (*rt)->tasks(), signals.cancelled(), &log);
    if (!sweep.ok())
      return signals.cancelled()->load() ? Interrupted(sweep.status()) : Fail(sweep.status());
    if (sub.count("--slots") == 0 && HasMeteredModel(sweep->config)) f->slots = kMeteredSlots;
    if (Status s = ApplyFilter(f->filter, *sweep); !s.ok()) return Fail(s);
    const ExpandStats& grid = sweep->grid;
    if (hooks.before_serve) {
      if (std::optional<int> rc = hooks.before_serve(*sweep->store, grid.sweep_id)) return *rc;
    }
    Result<JobCounts> counts =
        sweep->store->CountJobStates(grid.sweep_id, sweep->core.job_scope_sql);
    if (!counts.ok()) return Fail(counts.status());
    std::printf("sweep %s: %lld cells (%lld new, %lld to run), database %s\n",
                sweep->config.name.c_str(), static_cast<long long>(grid.total),
                static_cast<long long>(grid.inserted),
                static_cast<long long>(counts->pending + counts->leased + counts->parked),
                f->setup.db.c_str());
    if (!f->filter.empty()) {
      std::printf("filtered: %lld of the cells selected\n", static_cast<long long>(counts->total));
    }
    std::fflush(stdout);
    // Parked cells (batch mode) wait for a provider batch that this run polls: not finished.
    if (counts->pending + counts->leased + counts->parked == 0) {
      std::printf("nothing to run: all %lld cells are already finished\n",
                  static_cast<long long>(counts->total));
      return Finish(*f, sweep->config.name, 0, "");
    }
    if (Status ready = (*rt)->Ready(); !ready.ok()) return Fail(ready);
    return Serve(*f, *sweep, signals, (*rt)->runner(), log);
  };
}

}  // namespace codesweep
