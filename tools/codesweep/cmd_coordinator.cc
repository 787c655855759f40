// `codesweep coordinator SWEEP.toml --db FILE --bind tcp://127.0.0.1:5555`: expand the sweep into
// the database and serve its jobs to workers until SIGINT/SIGTERM (or until done, if asked).
// With --curve-secret/--authorized-keys only listed workers get in; SIGHUP re-reads the list.
#include <csignal>
#include <cstdio>
#include <memory>
#include <set>
#include <string>

#include "coordinator/coordinator.h"
#include "coordinator/sweep/grid.h"
#include "coordinator/sweep/sweep_file.h"
#include "tools/codesweep/commands.h"
#include "worker/runtime.h"

namespace codesweep {

namespace {

struct CoordFlags {
  std::string sweep_file;
  std::string db;
  std::string bind = "tcp://127.0.0.1:5555";
  std::string curve_secret_file;  // --curve-secret: the coordinator's CURVE secret key file
  std::string authorized_keys;    // --authorized-keys: directory of worker *.pub files
  bool insecure = false;
  bool exit_when_done = false;
  bool verbose = false;
  CoordinatorOptions core;
};

bool IsLoopback(const std::string& endpoint) {
  return endpoint.rfind("tcp://127.", 0) == 0 || endpoint.rfind("tcp://localhost:", 0) == 0 ||
         endpoint.rfind("tcp://[::1]:", 0) == 0 || endpoint.rfind("inproc://", 0) == 0 ||
         endpoint.rfind("ipc://", 0) == 0;
}

int Fail(const Status& s) {
  std::fprintf(stderr, "codesweep coordinator: %s\n", s.ToString().c_str());
  return 1;
}

// Fills the loop options' CURVE fields from the flags; refuses what would be unsafe.
Status SetUpCurve(const CoordFlags& f, Logger& log, CoordinatorLoopOptions* lo) {
  if (f.curve_secret_file.empty()) {
    if (!f.authorized_keys.empty()) {
      return Status::InvalidArgument("--authorized-keys needs --curve-secret");
    }
    if (!IsLoopback(f.bind) && !f.insecure) {
      return Status::PermissionDenied(
          Str("refusing to bind ", f.bind,
              " without CURVE: any host that reaches it could take "
              "jobs and write results. Give --curve-secret and --authorized-keys (see `codesweep "
              "keygen`), or pass --insecure on a trusted network"));
    }
    return Status::OK();
  }
  if (f.authorized_keys.empty()) {
    return Status::InvalidArgument("--curve-secret needs --authorized-keys DIR (worker *.pub)");
  }
  CS_ASSIGN_OR_RETURN(lo->curve_secret, ReadCurveKeyFile(f.curve_secret_file));
  CS_ASSIGN_OR_RETURN(std::string pub, CurvePublicFromSecret(lo->curve_secret));
  CS_ASSIGN_OR_RETURN(lo->authorized_keys, LoadAuthorizedKeys(f.authorized_keys));
  log.Info(Str("server public key ", pub));
  if (lo->authorized_keys.empty()) {
    log.Warn(Str("no *.pub in ", f.authorized_keys,
                 ": no worker can connect until one is "
                 "added and the coordinator gets SIGHUP"));
  }
  return Status::OK();
}

void ReloadKeys(const CoordFlags& f, Logger& log, Coordinator* coord) {
  if (f.authorized_keys.empty() || !coord) return;
  Result<std::set<std::string>> keys = LoadAuthorizedKeys(f.authorized_keys);
  if (!keys.ok()) {
    log.Warn(Str("SIGHUP: keeping the old authorized keys: ", keys.status().ToString()));
    return;
  }
  coord->SetAuthorizedKeys(std::move(*keys));
}

}  // namespace

CommandAction SetupCoordinatorCommand(CLI::App& sub) {
  auto f = std::make_shared<CoordFlags>();
  sub.add_option("sweep", f->sweep_file, "Sweep file (TOML)")->required();
  sub.add_option("--db", f->db, "Database file")->required();
  sub.add_option("--bind", f->bind, "Endpoint to listen on")->capture_default_str();
  sub.add_option("--curve-secret", f->curve_secret_file,
                 "CURVE secret key file of this coordinator (codesweep keygen)");
  sub.add_option("--authorized-keys", f->authorized_keys,
                 "Directory of worker public keys (*.pub) allowed to connect; re-read on SIGHUP");
  sub.add_flag("--insecure", f->insecure, "Allow a non-loopback bind without CURVE keys");
  sub.add_flag("--exit-when-done", f->exit_when_done, "Exit once every job of the sweep is done");
  sub.add_option("--hb-ms", f->core.hb_ms, "Heartbeat interval")->capture_default_str();
  sub.add_option("--liveness", f->core.liveness, "Missed heartbeats before a worker is lost")
      ->capture_default_str();
  sub.add_option("--lease-ms", f->core.lease_ms, "Lease length")->capture_default_str();
  sub.add_option("--grace-ms", f->core.restart_grace_ms, "Restart grace for leased jobs")
      ->capture_default_str();
  sub.add_option("--stall-ms", f->core.stall_ms,
                 "A worker holding jobs with no result this long gets them taken back (0: never)")
      ->capture_default_str();
  sub.add_flag("-v,--verbose", f->verbose, "Debug logging");
  sub.add_flag_callback(
      "--no-cache", [f] { f->core.use_cache = false; },
      "Send every LLM call, even one with a stored response");
  sub.add_option_function<double>(
      "--rate-burst-s", [f](double s) { f->core.rate.burst_ms = static_cast<int64_t>(s * 1000); },
      "Rate-limit bucket capacity, in seconds of the model's limits (default 60)");
  return [f]() -> int {
    Logger log(stderr, f->verbose ? LogLevel::kDebug : LogLevel::kInfo, "coordinator");
    CoordinatorLoopOptions lo;
    Status curve = SetUpCurve(*f, log, &lo);
    if (!curve.ok()) return Fail(curve);
    Coordinator* current = nullptr;
    std::mutex mu;
    SignalWatcher signals(
        [&](int sig) {
          std::lock_guard<std::mutex> lock(mu);
          if (sig == SIGHUP) return ReloadKeys(*f, log, current);
          if (current) current->Stop();
        },
        {SIGINT, SIGTERM, SIGHUP});
    Result<std::unique_ptr<TaskRegistry>> tasks = TaskRegistry::Create(DefaultDataDir());
    if (!tasks.ok()) return Fail(tasks.status());
    Result<SweepConfig> config = LoadSweepFile(f->sweep_file, **tasks);
    if (!config.ok()) return Fail(config.status());
    Result<std::unique_ptr<Store>> store = Store::Open(f->db, {});
    if (!store.ok()) return Fail(store.status());
    Result<ExpandStats> grid = ExpandIntoStore(*config, **store);
    if (!grid.ok()) return Fail(grid.status());
    log.Info(Str("sweep ", config->name, ": ", grid->total, " cells, ", grid->inserted, " new"));
    SystemClock clock;
    WireContext ctx;
    lo.core = f->core;
    lo.core.exit_when_done = f->exit_when_done;
    if (f->exit_when_done) lo.core.sweep_id = grid->sweep_id;
    ClusterRateLimiter limiter(lo.core.rate);
    Coordinator coord(**store, ctx, clock, log, lo, &limiter);
    Status s = coord.Bind(f->bind);
    if (!s.ok()) return Fail(s);
    std::printf("listening on %s\n", coord.endpoint().c_str());
    std::fflush(stdout);
    {
      std::lock_guard<std::mutex> lock(mu);
      current = &coord;
    }
    s = coord.Run();
    {
      std::lock_guard<std::mutex> lock(mu);
      current = nullptr;
    }
    if (!s.ok()) return Fail(s);
    Progress p = coord.progress();
    log.Info(Str("coordinator stopped: ", p.terminal, "/", p.total, " jobs finished"));
    return 0;
  };
}

}  // namespace codesweep
