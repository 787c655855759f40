// RateLimiter: the seam where the cluster-wide rate budget (issue 6) plugs into the coordinator.
// The coordinator asks TryAcquire for every uncached CALL and retries refused calls on its timer
// (per-bucket FIFO, round-robin across buckets); CALL_RESULT reports actual usage and 429s.
// Called only from the coordinator thread. ClusterRateLimiter (rate_cluster.h) is the real one;
// ImmediateRateLimiter grants everything at once (tests and benchmarks of other parts).
#pragma once

#include <compare>
#include <cstdint>
#include <string>
#include <vector>

#include "coordinator/sweep/sweep_file.h"
#include "schema/messages.h"

namespace codesweep {

// One rate budget: (provider, model name, key alias). The alias names the key, never holds it.
struct BucketKey {
  std::string provider;
  std::string model;
  std::string key_alias;
  auto operator<=>(const BucketKey&) const = default;
  static BucketKey Of(const CallMsg& call) { return {call.provider, call.model, call.key_alias}; }
  std::string ToString() const { return provider + ":" + model + "@" + key_alias; }
};

// What a bucket has learned of its calls' tokens: actual tokens / the worker's estimate, the
// input share, and from how many results (0 = nothing learned).
struct LearnedTokens {
  double est_ratio = 1.0;
  double input_share = 0.5;
  int64_t samples = 0;
};

// Live state of one bucket, for `codesweep status` (rate_limits table). Limits: 0 = unlimited;
// availability: -1 = unlimited.
struct BucketSnapshot {
  BucketKey key;
  double rpm = 0, tpm = 0, input_tpm = 0, output_tpm = 0;  // effective (reserve applied)
  double requests_available = -1;
  double tokens_available = -1;
  int in_flight = 0;
  int cap = 0;              // adaptive in-flight cap; 0 = none yet
  int max_concurrency = 0;  // configured ceiling; 0 = none
  int64_t queued = 0;       // refused calls waiting (filled by the coordinator)
  int64_t granted = 0, ok = 0, rate_limited = 0;
  int64_t cooldown_ms = 0;  // remaining Retry-After pause
  int64_t updated_ms = 0;
  LearnedTokens learned;
};

class RateLimiter {
 public:
  virtual ~RateLimiter() = default;
  // True: the call may go now (the coordinator sends GRANT{go}). False: ask again later.
  virtual bool TryAcquire(const CallMsg& call, int64_t now_ms) = 0;
  // Actual usage and status of a finished call (corrects estimates, drives back-off).
  virtual void OnResult(const CallResultMsg& result, int64_t now_ms) = 0;
  // A granted call that will never report (its worker is gone): frees its in-flight slot.
  virtual void Release(const std::string& /*call_key*/, int64_t /*now_ms*/) {}
  // Limits of one bucket from a sweep file (several sweeps: the strictest value wins).
  virtual void Configure(const BucketKey& /*key*/, const RateLimitConfig& /*limits*/) {}
  // Earliest wall time (ms) at which a refused call of this bucket could be granted.
  virtual int64_t ReadyAtMs(const BucketKey& /*key*/, int64_t now_ms) const { return now_ms; }
  // Estimated wall ms from now until this bucket could grant `calls` more calls (the ones waiting
  // for it plus a new one), from its refill, cooldown and in-flight cap. 0 = at once.
  virtual int64_t WaitMs(const BucketKey& /*key*/, int64_t /*calls*/, int64_t /*now_ms*/) const {
    return 0;
  }
  virtual std::vector<BucketSnapshot> Snapshot(int64_t /*now_ms*/) const { return {}; }
  // Starts a bucket's learned token ratios from an earlier run on the same database (ignored
  // once the bucket has results of its own).
  virtual void Seed(const BucketKey& /*key*/, const LearnedTokens& /*learned*/) {}
};

class ImmediateRateLimiter final : public RateLimiter {
 public:
  bool TryAcquire(const CallMsg&, int64_t) override { return true; }
  void OnResult(const CallResultMsg&, int64_t) override {}
};

}  // namespace codesweep
