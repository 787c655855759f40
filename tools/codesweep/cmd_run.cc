// `codesweep run SWEEP.toml [--db FILE] [--workers N] [--slots N]`: expand the sweep, run it with
// an embedded coordinator and N worker loops over inproc (the same classes as the distributed
// case), show live progress, then a per-(task, model, method) summary.
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "coordinator/coordinator.h"
#include "coordinator/store/report_queries.h"
#include "coordinator/sweep/grid.h"
#include "coordinator/sweep/sweep_file.h"
#include "tools/codesweep/commands.h"
#include "worker/runtime.h"
#include "worker/worker.h"

namespace codesweep {

namespace {

struct RunFlags {
  std::string sweep_file;
  std::string db;
  int workers = 4;
  int slots = 1;
  bool quiet = false;
  bool no_cache = false;
  double rate_burst_s = 60;  // rate-limit bucket capacity in seconds of refill
};

int Fail(const Status& s) {
  std::fprintf(stderr, "codesweep run: %s\n", s.ToString().c_str());
  return 1;
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

std::string DefaultDb(const std::string& sweep_file) {
  return std::filesystem::path(sweep_file).stem().string() + ".db";
}

}  // namespace

CommandAction SetupRunCommand(CLI::App& sub) {
  auto f = std::make_shared<RunFlags>();
  sub.add_option("sweep", f->sweep_file, "Sweep file (TOML)")->required();
  sub.add_option("--db", f->db, "Database file (default: <sweep file stem>.db here)");
  sub.add_option("--workers", f->workers, "Local worker loops")->capture_default_str();
  sub.add_option("--slots", f->slots, "Slots per worker loop")->capture_default_str();
  sub.add_flag("-q,--quiet", f->quiet, "No progress line");
  sub.add_flag("--no-cache", f->no_cache, "Send every LLM call, even one with a stored response");
  sub.add_option("--rate-burst-s", f->rate_burst_s,
                 "Rate-limit bucket capacity, in seconds of the model's limits")
      ->capture_default_str();
  return [f]() -> int {
    Logger log(stderr, LogLevel::kWarn, "run");
    Coordinator* current = nullptr;
    std::mutex mu;
    SignalWatcher signals([&](int) {
      std::lock_guard<std::mutex> lock(mu);
      if (current) current->Stop();
    });
    if (f->db.empty()) f->db = DefaultDb(f->sweep_file);
    RuntimeOptions ro;
    ro.env = EnvironmentSecrets(&log);
    Result<std::unique_ptr<JobRuntime>> rt = JobRuntime::Create(ro, log);
    if (!rt.ok()) return Fail(rt.status());
    Result<SweepConfig> config = LoadSweepFile(f->sweep_file, (*rt)->tasks());
    if (!config.ok()) return Fail(config.status());
    Result<std::unique_ptr<Store>> store = Store::Open(f->db, {});
    if (!store.ok()) return Fail(store.status());
    Result<ExpandStats> grid = ExpandIntoStore(*config, **store);
    if (!grid.ok()) return Fail(grid.status());
    Result<JobCounts> counts = (*store)->CountJobStates(grid->sweep_id);
    if (!counts.ok()) return Fail(counts.status());
    std::printf("sweep %s: %lld cells (%lld new), database %s\n", config->name.c_str(),
                static_cast<long long>(grid->total), static_cast<long long>(grid->inserted),
                f->db.c_str());
    std::fflush(stdout);
    if (counts->pending + counts->leased == 0) {
      std::printf("nothing to run: all %lld cells are already finished\n",
                  static_cast<long long>(grid->total));
      PrintSummary(f->db, config->name);
      return 0;
    }
    SystemClock clock;
    WireContext ctx;
    CoordinatorLoopOptions lo;
    lo.core.exit_when_done = true;
    lo.core.sweep_id = grid->sweep_id;
    lo.core.restart_grace_ms = 0;  // no outside workers can hold our leases
    lo.core.requeue_backoff_ms = 100;
    lo.on_progress = ProgressPrinter(f->quiet);
    lo.core.use_cache = !f->no_cache;
    lo.core.rate.burst_ms = static_cast<int64_t>(f->rate_burst_s * 1000);
    ClusterRateLimiter limiter(lo.core.rate);
    Coordinator coord(**store, ctx, clock, log, lo, &limiter);
    std::string endpoint = Str("inproc://codesweep-run-", getpid());
    Status s = coord.Bind(endpoint);
    if (!s.ok()) return Fail(s);
    std::vector<std::unique_ptr<Worker>> workers;
    std::vector<std::thread> threads;
    for (int i = 0; i < std::max(f->workers, 1); ++i) {
      WorkerOptions wo;
      wo.connect = endpoint;
      wo.worker_id = Str("local-", i);
      wo.slots = std::max(f->slots, 1);
      wo.drain_timeout_ms = 2'000;
      workers.push_back(std::make_unique<Worker>(ctx, clock, log, wo, (*rt)->runner()));
      threads.emplace_back([w = workers.back().get()] { (void)w->Run(); });
    }
    {
      std::lock_guard<std::mutex> lock(mu);
      current = &coord;
    }
    s = coord.Run();
    {
      std::lock_guard<std::mutex> lock(mu);
      current = nullptr;
    }
    for (auto& w : workers) w->Stop();
    for (std::thread& t : threads) t.join();
    if (!f->quiet) std::fprintf(stderr, "\n");
    if (!s.ok()) return Fail(s);
    Progress p = coord.progress();
    if (p.terminal < p.total) {
      std::printf("interrupted: %lld/%lld cells finished; run again to resume\n",
                  static_cast<long long>(p.terminal), static_cast<long long>(p.total));
      return 130;
    }
    PrintSummary(f->db, config->name);
    return 0;
  };
}

}  // namespace codesweep
