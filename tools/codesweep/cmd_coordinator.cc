// `codesweep coordinator SWEEP.toml --db FILE --bind tcp://127.0.0.1:5555`: expand the sweep into
// the database and serve its jobs to workers until SIGINT/SIGTERM (or until done, if asked).
// With --curve-secret/--authorized-keys only listed workers get in; SIGHUP re-reads the list.
#include <csignal>
#include <cstdio>
#include <memory>
#include <set>
#include <string>

#include "coordinator/coordinator.h"
#include "tools/codesweep/commands.h"
#include "tools/codesweep/sweep_setup.h"

namespace codesweep {

namespace {

struct CoordFlags {
  SweepSetupOptions setup;
  std::string bind = "tcp://127.0.0.1:5555";
  std::string curve_secret_file;  // --curve-secret: the coordinator's CURVE secret key file
  std::string authorized_keys;    // --authorized-keys: directory of worker *.pub files
  bool insecure = false;
  bool verbose = false;
};

bool IsLoopback(const std::string& endpoint) {
  return endpoint.rfind("tcp://127.", 0) == 0 || endpoint.rfind("tcp://localhost:", 0) == 0 ||
         endpoint.rfind("tcp://[::1]:", 0) == 0 || endpoint.rfind("inproc://", 0) == 0 ||
         endpoint.rfind("ipc://", 0) == 0;
}

int Fail(const Status& s) {
  std::fprintf(stderr, "codesweep coordinator: %s\n", s.message().c_str());
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

// Serves the loaded sweep on the socket bound to f.bind until a signal stops it (or it is done,
// if asked).
int Serve(const CoordFlags& f, LoadedSweep& sweep, StopSignals& signals, WireContext& ctx,
          CoordinatorListener listener, CoordinatorLoopOptions lo, const TaskRegistry& tasks,
          Logger& log) {
  SystemClock clock;
  lo.core = sweep.core;
  lo.core.max_cells = f.setup.max_cells;
  lo.tasks = &tasks;  // `codesweep submit` hands it sweep files
  ClusterRateLimiter limiter(lo.core.rate);
  Coordinator coord(*sweep.store, ctx, clock, log, lo, &limiter);
  coord.Adopt(std::move(listener));
  std::printf("listening on %s\n", coord.endpoint().c_str());
  std::fflush(stdout);
  Status s = signals.Serve(coord);
  if (!s.ok()) return Fail(s);
  Progress p = coord.progress();
  log.Info(Str("coordinator stopped: ", p.terminal, "/", p.total, " jobs finished"));
  return 0;
}

}  // namespace

CommandAction SetupCoordinatorCommand(CLI::App& sub) {
  auto f = std::make_shared<CoordFlags>();
  CoordinatorOptions& core = f->setup.core;
  f->setup.command = "coordinator";
  sub.add_option("sweep", f->setup.sweep_file, "Sweep file (TOML)")->required();
  sub.add_option("--db", f->setup.db, "Database file")->required();
  sub.add_option("--bind", f->bind, "Endpoint to listen on")->capture_default_str();
  sub.add_option("--curve-secret", f->curve_secret_file,
                 "CURVE secret key file of this coordinator (codesweep keygen)");
  sub.add_option("--authorized-keys", f->authorized_keys,
                 "Directory of worker public keys (*.pub) allowed to connect; re-read on SIGHUP");
  sub.add_flag("--insecure", f->insecure, "Allow a non-loopback bind without CURVE keys");
  sub.add_flag("--exit-when-done", core.exit_when_done, "Exit once every job of the sweep is done");
  sub.add_option("--hb-ms", core.hb_ms, "Heartbeat interval")->capture_default_str();
  sub.add_option("--liveness", core.liveness, "Missed heartbeats before a worker is lost")
      ->capture_default_str();
  sub.add_option("--lease-ms", core.lease_ms, "Lease length")->capture_default_str();
  sub.add_option("--grace-ms", core.restart_grace_ms, "Restart grace for leased jobs")
      ->capture_default_str();
  sub.add_option("--stall-ms", core.stall_ms,
                 "A worker holding jobs with no result this long gets them taken back (0: never)")
      ->capture_default_str();
  sub.add_option("--idle-fetch-ms", core.idle_fetch_ms,
                 "Re-read pending jobs at most this often when idle: bounds how late a write to "
                 "the database by another process without --connect is seen")
      ->capture_default_str();
  sub.add_flag("-v,--verbose", f->verbose, "Debug logging");
  AddSweepSetupFlags(sub, &f->setup);
  return [f]() -> int {
    Logger log(stderr, f->verbose ? LogLevel::kDebug : LogLevel::kInfo, "coordinator");
    if (Status valid = f->setup.Validate(); !valid.ok()) return Fail(valid);
    CoordinatorLoopOptions lo;
    if (Status curve = SetUpCurve(*f, log, &lo); !curve.ok()) return Fail(curve);
    StopSignals signals([&](int, Coordinator* coord) { ReloadKeys(*f, log, coord); },
                        {SIGINT, SIGTERM, SIGHUP});
    // Bound before the sweep is loaded: workers started with the coordinator connect at once and
    // their HELLOs wait in the socket, answered when it serves ("listening on" is printed then).
    WireContext ctx;
    Result<CoordinatorListener> listener = Coordinator::Listen(ctx, f->bind, lo, log);
    if (!listener.ok()) return Fail(listener.status());
    // Lazy: the sweep file's parse builds the tasks it names (and reports a broken dataset).
    std::unique_ptr<TaskRegistry> tasks = TaskRegistry::CreateLazy(DefaultDataDir());
    Result<LoadedSweep> sweep = LoadSweep(f->setup, *tasks, signals.cancelled(), &log);
    if (!sweep.ok() && signals.cancelled()->load()) {  // asked to stop, and stopped cleanly
      log.Info(Str("stopped during the grid load: ", sweep.status().message()));
      return 0;
    }
    if (!sweep.ok()) return Fail(sweep.status());
    log.Info(Str("sweep ", sweep->config.name, ": ", sweep->grid.total, " cells, ",
                 sweep->grid.inserted, " new"));
    return Serve(*f, *sweep, signals, ctx, std::move(listener).value(), std::move(lo), *tasks, log);
  };
}

}  // namespace codesweep
