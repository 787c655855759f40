// `codesweep worker --connect tcp://HOST:PORT --slots N`: run jobs for a coordinator until
// SIGINT/SIGTERM, then drain and exit 0.
#include <cstdio>
#include <memory>
#include <string>

#include "tools/codesweep/commands.h"
#include "worker/runtime.h"
#include "worker/worker.h"

namespace codesweep {

namespace {
struct WorkerFlags {
  WorkerOptions worker;
  std::string sandbox_tier = "auto";
  bool allow_tier_c = false;
  std::string server_key_file;    // --server-key: the coordinator's public key file
  std::string curve_secret_file;  // --curve-secret: this worker's secret key file
  bool verbose = false;
};

// Loads the worker's CURVE keys into its options; both flags or neither.
Status SetUpCurve(WorkerFlags& f) {
  if (f.server_key_file.empty() != f.curve_secret_file.empty()) {
    return Status::InvalidArgument("--server-key and --curve-secret go together");
  }
  if (f.server_key_file.empty()) return Status::OK();
  CS_ASSIGN_OR_RETURN(f.worker.curve_server_key, ReadCurveKeyFile(f.server_key_file));
  CS_ASSIGN_OR_RETURN(f.worker.curve_secret, ReadCurveKeyFile(f.curve_secret_file));
  CS_ASSIGN_OR_RETURN(f.worker.curve_public, CurvePublicFromSecret(f.worker.curve_secret));
  return Status::OK();
}
}  // namespace

CommandAction SetupWorkerCommand(CLI::App& sub) {
  auto f = std::make_shared<WorkerFlags>();
  sub.add_option("--connect", f->worker.connect, "Coordinator endpoint, tcp://HOST:PORT")
      ->required();
  sub.add_option("--slots", f->worker.slots, "Jobs run concurrently")->capture_default_str();
  sub.add_option("--id", f->worker.worker_id, "Worker id (default host-pid-random)");
  sub.add_option("--label", f->worker.labels, "Labels announced to the coordinator");
  sub.add_option("--drain-timeout-ms", f->worker.drain_timeout_ms,
                 "On SIGTERM, wait this long for running jobs")
      ->capture_default_str();
  sub.add_option("--sandbox-tier", f->sandbox_tier, "auto, A, B or C")->capture_default_str();
  sub.add_flag("--allow-tier-c", f->allow_tier_c, "Allow the weakest sandbox tier");
  sub.add_option("--server-key", f->server_key_file,
                 "The coordinator's CURVE public key file (its NAME.pub)");
  sub.add_option("--curve-secret", f->curve_secret_file,
                 "This worker's CURVE secret key file (its public key must be authorized)");
  sub.add_flag("-v,--verbose", f->verbose, "Debug logging");
  return [f]() -> int {
    Logger log(stderr, f->verbose ? LogLevel::kDebug : LogLevel::kInfo, "worker");
    if (Status curve = SetUpCurve(*f); !curve.ok()) {
      std::fprintf(stderr, "codesweep worker: %s\n", curve.message().c_str());
      return 1;
    }
    Worker* current = nullptr;
    std::mutex mu;
    SignalWatcher signals([&](int) {
      std::lock_guard<std::mutex> lock(mu);
      if (current) current->Stop();
    });
    RuntimeOptions ro;
    ro.sandbox.tier = f->sandbox_tier;
    ro.sandbox.allow_tier_c = f->allow_tier_c;
    ro.env = EnvironmentSecrets(&log);
    Result<std::unique_ptr<JobRuntime>> rt = JobRuntime::Create(ro, log);
    if (!rt.ok()) {
      std::fprintf(stderr, "codesweep worker: %s\n", rt.status().message().c_str());
      return 1;
    }
    SystemClock clock;
    WireContext ctx;
    Worker worker(ctx, clock, log, f->worker, (*rt)->runner());
    {
      std::lock_guard<std::mutex> lock(mu);
      current = &worker;
    }
    Status s = worker.Run();
    {
      std::lock_guard<std::mutex> lock(mu);
      current = nullptr;
    }
    if (!s.ok()) {
      std::fprintf(stderr, "codesweep worker: %s\n", s.message().c_str());
      return 1;
    }
    return 0;
  };
}

}  // namespace codesweep
