// Coordinator: the single-threaded event loop of the hub. It owns the ROUTER channel and drives a
// CoordinatorCore (all decisions) with received frames and timers, sending what the core emits.
// Run() blocks on the calling thread; Stop() may be called from any thread (or a signal path).
// The Store, WireContext, Clock and Logger are borrowed and must outlive the Coordinator.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <set>
#include <string>

#include "coordinator/coordinator_core.h"
#include "coordinator/ratelimit/rate_limiter.h"
#include "transport/wire.h"

namespace codesweep {

struct CoordinatorLoopOptions {
  CoordinatorOptions core;
  int progress_interval_ms = 500;                    // how often on_progress is called
  std::function<void(const Progress&)> on_progress;  // called on the loop thread
  int max_frames_per_turn = 4'096;                   // bounds one loop turn's receive batch
  // CURVE: a Z85 server secret makes Bind start a ZAP handler and accept only workers whose
  // public key is in authorized_keys. "" = plaintext (loopback or --insecure only).
  std::string curve_secret;
  std::set<std::string> authorized_keys;
  // Parses the sweep files clients SUBMIT (`codesweep submit`); null = SUBMIT is refused.
  const TaskRegistry* tasks = nullptr;
};

// A bound ROUTER socket (and its ZAP handler under CURVE) not yet served. Bound before the sweep
// is loaded, it lets workers started at the same time connect at once: their HELLOs wait in the
// socket (the zmq I/O thread accepts them) instead of in the workers' reconnect back-off.
struct CoordinatorListener {
  std::unique_ptr<ZapHandler> zap;  // before router: outlives the socket it authenticates
  std::unique_ptr<Channel> router;
};

class Coordinator {
 public:
  // Binds `endpoint` with the CURVE settings of `options` ("tcp://127.0.0.1:0" picks a port).
  static Result<CoordinatorListener> Listen(WireContext& ctx, const std::string& endpoint,
                                            const CoordinatorLoopOptions& options, Logger& log);

  Coordinator(Store& store, WireContext& ctx, const Clock& clock, Logger& log,
              CoordinatorLoopOptions options, RateLimiter* limiter = nullptr);
  ~Coordinator();

  // Binds the ROUTER socket ("tcp://127.0.0.1:0" picks a free port; see endpoint()).
  Status Bind(const std::string& endpoint);
  // Serves a socket bound earlier by Listen (with the same CURVE settings).
  void Adopt(CoordinatorListener listener);
  std::string endpoint() const;
  // Serves until Stop(), or until every job is terminal when options.core.exit_when_done.
  Status Run();
  void Stop() { stop_.store(true); }
  Progress progress() const { return core_.progress(); }
  // Replaces the allow-list of worker keys (any thread; e.g. on SIGHUP). Connected workers stay.
  void SetAuthorizedKeys(std::set<std::string> keys);

 private:
  void Flush();

  WireContext& ctx_;
  const Clock& clock_;
  Logger& log_;
  CoordinatorLoopOptions opt_;
  std::unique_ptr<RateLimiter> own_limiter_;
  CoordinatorCore core_;
  std::unique_ptr<ZapHandler> zap_;  // before router_: outlives the socket it authenticates
  std::unique_ptr<Channel> router_;
  std::atomic<bool> stop_{false};
};

}  // namespace codesweep
