// `codesweep coordinator SWEEP.toml --db FILE --bind tcp://127.0.0.1:5555`: expand the sweep into
// the database and serve its jobs to workers until SIGINT/SIGTERM (or until done, if asked).
#include <cstdio>
#include <memory>
#include <string>

#include "coordinator/coordinator.h"
#include "coordinator/grid.h"
#include "coordinator/sweep_file.h"
#include "tools/codesweep/commands.h"
#include "worker/runtime.h"

namespace codesweep {

namespace {

struct CoordFlags {
  std::string sweep_file;
  std::string db;
  std::string bind = "tcp://127.0.0.1:5555";
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

}  // namespace

CommandAction SetupCoordinatorCommand(CLI::App& sub) {
  auto f = std::make_shared<CoordFlags>();
  sub.add_option("sweep", f->sweep_file, "Sweep file (TOML)")->required();
  sub.add_option("--db", f->db, "Database file")->required();
  sub.add_option("--bind", f->bind, "Endpoint to listen on")->capture_default_str();
  sub.add_flag("--insecure", f->insecure, "Allow a non-loopback bind without CURVE keys");
  sub.add_flag("--exit-when-done", f->exit_when_done, "Exit once every job of the sweep is done");
  sub.add_option("--hb-ms", f->core.hb_ms, "Heartbeat interval")->capture_default_str();
  sub.add_option("--liveness", f->core.liveness, "Missed heartbeats before a worker is lost")
      ->capture_default_str();
  sub.add_option("--lease-ms", f->core.lease_ms, "Lease length")->capture_default_str();
  sub.add_option("--grace-ms", f->core.restart_grace_ms, "Restart grace for leased jobs")
      ->capture_default_str();
  sub.add_flag("-v,--verbose", f->verbose, "Debug logging");
  return [f]() -> int {
    Logger log(stderr, f->verbose ? LogLevel::kDebug : LogLevel::kInfo, "coordinator");
    if (!IsLoopback(f->bind) && !f->insecure) {
      return Fail(Status::PermissionDenied(
          "refusing a non-loopback bind without CURVE keys; pass --insecure on a trusted network"));
    }
    Coordinator* current = nullptr;
    std::mutex mu;
    SignalWatcher signals([&](int) {
      std::lock_guard<std::mutex> lock(mu);
      if (current) current->Stop();
    });
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
    CoordinatorLoopOptions lo;
    lo.core = f->core;
    lo.core.exit_when_done = f->exit_when_done;
    if (f->exit_when_done) lo.core.sweep_id = grid->sweep_id;
    Coordinator coord(**store, ctx, clock, log, lo);
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
