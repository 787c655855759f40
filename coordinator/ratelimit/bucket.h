// TokenBucket and AimdController: the arithmetic of the cluster rate limiter, free of I/O and
// clocks (every call takes now_ms, so unit tests drive them with plain numbers). Values owned by
// one ClusterRateLimiter bucket; used only from the coordinator thread.
#pragma once

#include <cstdint>

namespace codesweep {

// A continuously refilling budget of `per_minute` units. Capacity = burst_ms of refill x
// (1 - reserve); it starts full. per_minute <= 0 means unlimited. Take() may drive the level
// below zero (a debt from an under-estimate), which later refill pays back.
class TokenBucket {
 public:
  TokenBucket() = default;  // unlimited
  // (Re)configures; the current level is kept but clamped to the new capacity.
  void Configure(double per_minute, double reserve, int64_t burst_ms, int64_t now_ms);
  bool unlimited() const { return rate_per_ms_ <= 0; }
  void Refill(int64_t now_ms);
  // True when `n` units fit now. A request larger than the capacity fits once the bucket is full.
  bool Fits(double n) const;
  void Take(double n) { level_ -= n; }
  void Give(double n);
  // Lowers the level to at most `max_level` (a provider reported less than we believed).
  void Clamp(double max_level);
  // Milliseconds (>= 0) until `n` units fit, given no other traffic.
  int64_t MsUntilFits(double n) const;
  // Milliseconds (>= 0) from now_ms until the level, refilled by then, reaches `n` (which may
  // exceed the capacity: `n` units taken one after another as the refill allows).
  int64_t MsUntilLevel(double n, int64_t now_ms) const;
  double level() const { return level_; }
  double capacity() const { return capacity_; }
  double per_minute() const { return rate_per_ms_ * 60'000.0; }

 private:
  double rate_per_ms_ = 0;
  double capacity_ = 0;
  double level_ = 0;
  int64_t last_ms_ = 0;
  bool started_ = false;
};

struct AimdOptions {
  int max_cap = 0;                      // configured max_concurrency; 0 = no ceiling
  double decrease = 0.5;                // cap *= decrease on a 429
  int64_t default_cooldown_ms = 1'000;  // pause after a 429 without Retry-After
  int64_t max_cooldown_ms = 60'000;     // longest pause honoured
};

// Adaptive in-flight cap. Starts uncapped (or at max_cap) and learns from the provider:
// x decrease on a 429 (once per episode: 429s of calls granted before the last decrease do not
// count again) with a cooldown honouring Retry-After; +1 per success while the cap binds and no
// cooldown runs.
class AimdController {
 public:
  explicit AimdController(AimdOptions options = {}) : opt_(options) {}
  void set_max_cap(int max_cap) { opt_.max_cap = max_cap; }
  // The effective cap: 0 = none.
  int cap() const;
  bool Allows(int in_flight, int64_t now_ms) const;
  void OnSuccess(int in_flight_before, int64_t now_ms);
  // A 429 for a call granted at granted_ms; retry_after_ms < 0 = not given.
  void OnRateLimited(int in_flight_before, int64_t retry_after_ms, int64_t granted_ms,
                     int64_t now_ms);
  // Pauses grants for Retry-After (retry_after_ms < 0: the default) without lowering the cap.
  void Pause(int64_t retry_after_ms, int64_t now_ms);
  int64_t cooldown_until_ms() const { return cooldown_until_ms_; }
  int64_t decreases() const { return decreases_; }

 private:
  AimdOptions opt_;
  int cap_ = 0;  // learned cap; 0 = not learned yet
  int64_t cooldown_until_ms_ = 0;
  int64_t last_decrease_ms_ = -1;
  int64_t decreases_ = 0;
};

}  // namespace codesweep
