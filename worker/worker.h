// Worker: the DEALER loop that runs jobs for a coordinator. One loop thread (Run) owns the
// connection, heartbeats, credit, the results kept until ACK, and reconnects with back-off; each
// slot runs the JobRunner on its own fiber (worker/fiber.h), and the fibers share at most
// `slot_threads` carrier threads. Slots talk to the loop only by message (same codec as the
// network) through in-process mailboxes: one inbox for the loop, woken through an eventfd it polls
// beside the coordinator socket, and one box per slot. No socket or file descriptor per slot, so
// a worker holds 10,000 slots (docs/design.md, "Slots"). Stop() may be called from any thread: it
// drains (no new credit, finish in-flight or hand back after the drain timeout, flush results,
// BYE) and Run returns.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/log.h"
#include "schema/messages.h"
#include "transport/wire.h"

namespace codesweep {

// How a running job asks the coordinator before a metered LLM call (rate limit, call cache).
// One gate per slot; used only from that slot's fiber.
class CallGate {
 public:
  virtual ~CallGate() = default;
  // Sends CALL (job and lease filled in) and blocks until the GRANT for call.call_key.
  virtual Result<GrantMsg> Acquire(CallMsg call) = 0;
  // Reports how the call went (only ok responses are cached by the coordinator).
  virtual void Report(CallResultMsg result) = 0;
};

// Runs one job. Must not throw (exceptions are turned into a retryable failure anyway).
using JobRunner = std::function<Outcome(const JobSpec& spec, CallGate& gate)>;

struct WorkerOptions {
  std::string connect;    // coordinator endpoint (tcp://host:port or inproc://name)
  std::string worker_id;  // "" = host-pid-random
  std::string host;       // for HELLO; "" = gethostname()
  int slots = 4;          // jobs run concurrently
  // Carrier threads the slots' fibers share (at most one per slot). A slot waiting for a GRANT,
  // an HTTP answer or a back-off frees its carrier; a sandbox run or checker holds it.
  int slot_threads = 256;
  int prefetch = -1;  // extra credit beyond slots, at most slots; -1 = max(1, slots / 4)
  std::vector<std::string> labels;
  int64_t reconnect_min_ms = 1'000;   // back-off starts here, doubles ...
  int64_t reconnect_max_ms = 32'000;  // ... up to here, with +-20 % jitter
  int64_t drain_timeout_ms = 30'000;  // on Stop(): wait this long for running jobs and ACKs
  int hb_ms = 1'000;                  // until WELCOME says otherwise
  int liveness = 3;
  // CURVE (Z85): the coordinator's public key and this worker's own pair; all "" = plaintext.
  // Never logged.
  std::string curve_server_key;
  std::string curve_public;
  std::string curve_secret;
};

struct WorkerStats {
  std::atomic<int64_t> jobs_started{0};
  std::atomic<int64_t> results_acked{0};
  std::atomic<int64_t> reconnects{0};
};

class Worker {
 public:
  Worker(WireContext& ctx, const Clock& clock, Logger& log, WorkerOptions options,
         JobRunner runner);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Connects and serves until Stop() has drained. OK on a clean drain.
  Status Run();
  void Stop() { stop_.store(true); }
  const WorkerStats& stats() const { return stats_; }
  const std::string& worker_id() const { return opt_.worker_id; }

 private:
  struct Loop;
  WireContext& ctx_;
  const Clock& clock_;
  Logger& log_;
  WorkerOptions opt_;
  JobRunner runner_;
  std::atomic<bool> stop_{false};
  WorkerStats stats_;
};

}  // namespace codesweep
