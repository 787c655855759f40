// ClusterRateLimiter: the one rate budget per (provider, model, key alias) for the whole cluster.
// Each bucket has token buckets for requests/min and tokens/min (input/output where configured),
// an estimate of each call's tokens corrected by its CALL_RESULT, and an adaptive in-flight cap.
// Owned by the coordinator (or a test); used only from its thread. docs/ratelimit.md.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

#include "coordinator/ratelimit/bucket.h"
#include "coordinator/ratelimit/rate_limiter.h"

namespace codesweep {

struct RateLimiterOptions {
  int64_t burst_ms = 60'000;  // bucket capacity: this much refill (one minute's budget)
  // Kept below the provider's window: capacity = (burst_ms - headroom_ms) of refill (at least
  // half the burst). The provider's bucket then stays this far ahead of ours, so grants that
  // reach it a little earlier than their neighbours (CALL -> GRANT -> HTTP jitter) still fit.
  int64_t headroom_ms = 100;
  // Before a bucket's first result a call is charged at most capacity / cold_start_probes
  // tokens: that many calls start at once and the first of their results sets the ratio
  // (the reconciliation on each result corrects what they really used). 0 = charge the
  // worker's estimate whole.
  int cold_start_probes = 4;
  double estimate_margin = 1.1;  // learned estimate x this, never above the worker's estimate
  // Weight of each result in the learned ratios: 1/n for the n-th result (a running mean, so
  // the first result already sets them) until 1/n falls below this, then an EWMA. 0 = the
  // ratios never change.
  double learn_weight = 0.1;
  bool learn_limits = true;  // a lower limit reported in headers replaces the configured one
  int64_t grant_timeout_ms = 900'000;  // a granted call silent this long is released
  AimdOptions aimd;                    // max_cap comes from each model's max_concurrency
};

class ClusterRateLimiter final : public RateLimiter {
 public:
  explicit ClusterRateLimiter(RateLimiterOptions options = {}) : opt_(options) {}

  bool TryAcquire(const CallMsg& call, int64_t now_ms) override;
  void OnResult(const CallResultMsg& result, int64_t now_ms) override;
  void Release(const std::string& call_key, int64_t now_ms) override;
  void Configure(const BucketKey& key, const RateLimitConfig& limits) override;
  int64_t ReadyAtMs(const BucketKey& key, int64_t now_ms) const override;
  int64_t WaitMs(const BucketKey& key, int64_t calls, int64_t now_ms) const override;
  std::vector<BucketSnapshot> Snapshot(int64_t now_ms) const override;

  // Estimated tokens this call is charged at grant time.
  int64_t EstimateFor(const CallMsg& call) const;
  // The learned ratios are written with the live state (Snapshot) and read back by the next
  // coordinator on the same database (Seed), so it starts where the last run left off.
  void Seed(const BucketKey& key, const LearnedTokens& learned) override;

 private:
  struct Bucket {
    RateLimitConfig config;
    bool configured = false;
    double learned_rpm = 0, learned_tpm = 0;  // from provider headers; 0 = none
    TokenBucket requests, tokens, input, output;
    AimdController aimd;
    int in_flight = 0;
    double est_ratio = 1.0;    // actual tokens / worker estimate (running mean, then EWMA)
    double input_share = 0.5;  // input tokens / all tokens (running mean, then EWMA)
    int64_t learned = 0;       // results the ratios have seen (this run)
    int64_t resync_ms = -1;    // last 429 answered by resynchronising the buckets, not AIMD
    double last_estimate = 0;  // tokens charged to the latest grant
    int64_t granted = 0, ok = 0, rate_limited = 0;
  };
  struct Grant {
    BucketKey key;
    int64_t raw_est = 0;
    double tokens = 0, input = 0, output = 0;
    int64_t at_ms = 0;
  };

  Bucket& Get(const BucketKey& key, int64_t now_ms);
  void OnRateLimited(Bucket& b, const CallResultMsg& r, const Grant* g, int before, int64_t now_ms);
  void Apply(Bucket& b, int64_t now_ms);  // (re)configures the token buckets from config + learned
  void RefillAll(Bucket& b, int64_t now_ms);
  void Refund(Bucket& b, const Grant& g, double tokens_in, double tokens_out);
  void Learn(Bucket& b, int64_t raw_est, double tokens_in, double tokens_out);
  void LearnHeaders(Bucket& b, const CallResultMsg& r, int64_t now_ms);
  void ExpireGrants(int64_t now_ms);

  RateLimiterOptions opt_;
  std::map<BucketKey, Bucket> buckets_;
  std::unordered_map<std::string, Grant> grants_;  // call key -> granted, not yet reported
  int64_t last_expiry_ms_ = 0;
  int64_t last_now_ms_ = 0;  // latest time seen (Configure has none of its own)
};

}  // namespace codesweep
