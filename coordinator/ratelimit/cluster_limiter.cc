// ClusterRateLimiter: token buckets, estimates corrected by usage, AIMD cap, header learning.
#include "coordinator/ratelimit/cluster_limiter.h"

#include <algorithm>

#include "jobs/llm/retry.h"

namespace codesweep {
namespace {

// The stricter of two limits where 0 means unlimited.
double Stricter(double a, double b) {
  if (a <= 0) return b;
  if (b <= 0) return a;
  return std::min(a, b);
}

}  // namespace

ClusterRateLimiter::Bucket& ClusterRateLimiter::Get(const BucketKey& key, int64_t now_ms) {
  auto it = buckets_.find(key);
  if (it != buckets_.end()) return it->second;
  Bucket& b = buckets_[key];
  b.aimd = AimdController(opt_.aimd);
  Apply(b, now_ms);
  return b;
}

void ClusterRateLimiter::Apply(Bucket& b, int64_t now_ms) {
  const RateLimitConfig& c = b.config;
  const double reserve = c.reserve_fraction;
  // The headroom: our capacity stays below the provider's window (see RateLimiterOptions).
  const int64_t burst = std::max(opt_.burst_ms - std::max<int64_t>(opt_.headroom_ms, 0),
                                 std::max<int64_t>(opt_.burst_ms / 2, 1));
  b.requests.Configure(Stricter(c.requests_per_minute, b.learned_rpm), reserve, burst, now_ms);
  b.tokens.Configure(Stricter(c.tokens_per_minute, b.learned_tpm), reserve, burst, now_ms);
  b.input.Configure(c.input_tokens_per_minute, reserve, burst, now_ms);
  b.output.Configure(c.output_tokens_per_minute, reserve, burst, now_ms);
  b.aimd.set_max_cap(c.max_concurrency);
}

void ClusterRateLimiter::Configure(const BucketKey& key, const RateLimitConfig& limits) {
  Bucket& b = Get(key, last_now_ms_);
  RateLimitConfig& c = b.config;
  if (!b.configured) {
    c = limits;
  } else {
    c.requests_per_minute = Stricter(c.requests_per_minute, limits.requests_per_minute);
    c.tokens_per_minute = Stricter(c.tokens_per_minute, limits.tokens_per_minute);
    c.input_tokens_per_minute = Stricter(c.input_tokens_per_minute, limits.input_tokens_per_minute);
    c.output_tokens_per_minute =
        Stricter(c.output_tokens_per_minute, limits.output_tokens_per_minute);
    c.max_concurrency = static_cast<int>(Stricter(c.max_concurrency, limits.max_concurrency));
    c.reserve_fraction = std::max(c.reserve_fraction, limits.reserve_fraction);
  }
  b.configured = true;
  Apply(b, last_now_ms_);
}

void ClusterRateLimiter::RefillAll(Bucket& b, int64_t now_ms) {
  b.requests.Refill(now_ms);
  b.tokens.Refill(now_ms);
  b.input.Refill(now_ms);
  b.output.Refill(now_ms);
}

int64_t ClusterRateLimiter::EstimateFor(const CallMsg& call) const {
  const int64_t raw = std::max<int64_t>(call.est_tokens, 0);
  if (raw == 0) return 0;
  auto it = buckets_.find(BucketKey::Of(call));
  if (it == buckets_.end()) return raw;
  const Bucket& b = it->second;
  if (b.learned == 0) {
    // Nothing learned yet: the worker's estimate (prompt / 4 + max_tokens) may be 20 times the
    // usage. Charging it whole let one call per bucket capacity start until the first result
    // (a whole latency at a fraction of the limit); a few probes at once bring that result
    // sooner, and the reconciliation on each result settles what they really used.
    int64_t est = raw;
    if (opt_.cold_start_probes > 0 && !b.tokens.unlimited()) {
      est = std::min<int64_t>(est,
                              static_cast<int64_t>(b.tokens.capacity() / opt_.cold_start_probes));
    }
    return std::clamp<int64_t>(est, 1, raw);
  }
  const double est = static_cast<double>(raw) * b.est_ratio * opt_.estimate_margin;
  return std::clamp<int64_t>(static_cast<int64_t>(est), 1, raw);
}

void ClusterRateLimiter::Seed(const BucketKey& key, const LearnedTokens& learned) {
  Bucket& b = Get(key, last_now_ms_);
  if (b.learned > 0 || learned.samples <= 0 || !(learned.est_ratio > 0) ||
      !(learned.input_share >= 0 && learned.input_share <= 1)) {
    return;
  }
  b.est_ratio = std::min(learned.est_ratio, 1.0);
  b.input_share = learned.input_share;
  // Weighted like that many results of this run, at most as much as the EWMA's memory, so new
  // results still move the ratios at once if the workload changed.
  const double memory = opt_.learn_weight > 0 ? 1.0 / opt_.learn_weight : 10.0;
  b.learned = std::min<int64_t>(learned.samples, static_cast<int64_t>(memory));
}

bool ClusterRateLimiter::TryAcquire(const CallMsg& call, int64_t now_ms) {
  last_now_ms_ = std::max(last_now_ms_, now_ms);
  ExpireGrants(now_ms);
  Bucket& b = Get(BucketKey::Of(call), now_ms);
  RefillAll(b, now_ms);
  if (!b.aimd.Allows(b.in_flight, now_ms)) return false;
  const double est = static_cast<double>(EstimateFor(call));
  const double in = est * b.input_share;
  const double out = est - in;
  if (!b.requests.Fits(1) || !b.tokens.Fits(est) || !b.input.Fits(in) || !b.output.Fits(out)) {
    return false;
  }
  if (grants_.count(call.call_key)) Release(call.call_key, now_ms);
  b.requests.Take(1);
  b.tokens.Take(est);
  b.input.Take(in);
  b.output.Take(out);
  ++b.in_flight;
  ++b.granted;
  b.last_estimate = est;
  grants_[call.call_key] = Grant{BucketKey::Of(call), call.est_tokens, est, in, out, now_ms};
  return true;
}

void ClusterRateLimiter::Refund(Bucket& b, const Grant& g, double tokens_in, double tokens_out) {
  // Positive: we charged too much and give it back; negative: a debt the refill pays later.
  auto settle = [](TokenBucket& bucket, double charged, double actual) {
    if (charged >= actual) {
      bucket.Give(charged - actual);
    } else {
      bucket.Take(actual - charged);
    }
  };
  settle(b.tokens, g.tokens, tokens_in + tokens_out);
  settle(b.input, g.input, tokens_in);
  settle(b.output, g.output, tokens_out);
}

void ClusterRateLimiter::OnResult(const CallResultMsg& r, int64_t now_ms) {
  last_now_ms_ = std::max(last_now_ms_, now_ms);
  auto it = grants_.find(r.call_key);
  const bool known = it != grants_.end();
  const BucketKey key = known ? it->second.key : BucketKey{r.provider, r.model, r.key_alias};
  Bucket& b = Get(key, now_ms);
  const int before = b.in_flight;
  if (known) b.in_flight = std::max(0, b.in_flight - 1);
  RefillAll(b, now_ms);
  LearnHeaders(b, r, now_ms);
  const bool limited = !r.ok && (r.http_status == 429 || r.rate_limited > 0);
  if (r.ok) {
    ++b.ok;
    const double in = static_cast<double>(std::max<int64_t>(r.tokens_in, 0));
    const double out = static_cast<double>(std::max<int64_t>(r.tokens_out, 0));
    if (known) {
      Refund(b, it->second, in, out);
      if (opt_.learn_weight > 0) Learn(b, it->second.raw_est, in, out);
    }
    b.aimd.OnSuccess(before, now_ms);
  } else if (limited) {
    OnRateLimited(b, r, known ? &it->second : nullptr, before, now_ms);
  }
  // Other failures keep their estimate charged: the provider may have counted them.
  if (known) grants_.erase(it);
}

void ClusterRateLimiter::OnRateLimited(Bucket& b, const CallResultMsg& r, const Grant* g,
                                       int before, int64_t now_ms) {
  ++b.rate_limited;
  if (g != nullptr) Refund(b, *g, 0, 0);  // a refused call costs the provider no tokens
  RateLimitInfo info = ParseRateLimitHeaders(r.headers, now_ms);
  // A 429 proves the provider has less than we believe: resynchronise to what it reports.
  if (info.remaining_requests >= 0) {
    b.requests.Clamp(static_cast<double>(info.remaining_requests));
  }
  if (info.remaining_tokens >= 0) b.tokens.Clamp(static_cast<double>(info.remaining_tokens));
  const int64_t granted_ms = g != nullptr ? g->at_ms : now_ms;
  // With a known limit, an isolated 429 means our buckets ran a little ahead of the provider's
  // (arrival jitter, a neighbour's call): the clamp above and Retry-After fix that. Halving the
  // in-flight cap as well cost seconds at half rate while it grew back (docs/ratelimit.md).
  // AIMD takes over when a call granted after such a resynchronisation is refused again within
  // kResyncQuietMs: then the limit itself is wrong (an unseen cut, another user of the key).
  constexpr int64_t kResyncQuietMs = 10'000;
  const bool known_limit = !b.requests.unlimited() || !b.tokens.unlimited();
  if (known_limit && (b.resync_ms < 0 || now_ms - b.resync_ms > kResyncQuietMs)) {
    b.resync_ms = now_ms;
    b.aimd.Pause(info.retry_after_ms, now_ms);
    return;
  }
  if (known_limit && granted_ms < b.resync_ms) {  // sent before the resynchronisation
    b.aimd.Pause(info.retry_after_ms, now_ms);
    return;
  }
  b.aimd.OnRateLimited(before, info.retry_after_ms, granted_ms, now_ms);
}

void ClusterRateLimiter::Learn(Bucket& b, int64_t raw_est, double in, double out) {
  // A running mean while it has few samples: the worker's estimate (prompt characters / 4 +
  // max_tokens) may be 20 times the usage, and an EWMA from 1.0 would overcharge the tokens
  // bucket for dozens of results.
  const double w = std::max(opt_.learn_weight, 1.0 / static_cast<double>(++b.learned));
  if (raw_est > 0) b.est_ratio = (1 - w) * b.est_ratio + w * (in + out) / raw_est;
  if (in + out > 0) b.input_share = (1 - w) * b.input_share + w * in / (in + out);
}

void ClusterRateLimiter::LearnHeaders(Bucket& b, const CallResultMsg& r, int64_t now_ms) {
  if (r.headers.empty()) return;
  RateLimitInfo info = ParseRateLimitHeaders(r.headers, now_ms);
  if (opt_.learn_limits) {
    const double rpm = info.limit_requests > 0 ? static_cast<double>(info.limit_requests) : 0;
    const double tpm = info.limit_tokens > 0 ? static_cast<double>(info.limit_tokens) : 0;
    if (rpm != b.learned_rpm || tpm != b.learned_tpm) {
      b.learned_rpm = rpm;
      b.learned_tpm = tpm;
      Apply(b, now_ms);
    }
  }
  // Proactive slowdown: the provider reports less quota left than we believe we have (beyond
  // what calls in flight and the refill during this call explain), e.g. another user of the
  // key: believe the provider. When both views agree this never fires.
  const double latency = static_cast<double>(std::max<int64_t>(r.latency_ms, 0));
  if (info.remaining_requests >= 0 && !b.requests.unlimited()) {
    const double slack = b.in_flight + 1 + b.requests.per_minute() / 60'000.0 * latency;
    const double remaining = static_cast<double>(info.remaining_requests);
    if (b.requests.level() > remaining + slack) b.requests.Clamp(remaining);
  }
  if (info.remaining_tokens >= 0 && !b.tokens.unlimited()) {
    const double slack =
        (b.in_flight + 1) * b.last_estimate + b.tokens.per_minute() / 60'000.0 * latency;
    const double remaining = static_cast<double>(info.remaining_tokens);
    if (b.tokens.level() > remaining + slack) b.tokens.Clamp(remaining);
  }
}

void ClusterRateLimiter::Release(const std::string& call_key, int64_t now_ms) {
  auto it = grants_.find(call_key);
  if (it == grants_.end()) return;
  Bucket& b = Get(it->second.key, now_ms);
  b.in_flight = std::max(0, b.in_flight - 1);
  grants_.erase(it);
}

void ClusterRateLimiter::ExpireGrants(int64_t now_ms) {
  if (now_ms - last_expiry_ms_ < 1'000) return;
  last_expiry_ms_ = now_ms;
  std::vector<std::string> old;
  for (const auto& [key, g] : grants_) {
    if (now_ms - g.at_ms > opt_.grant_timeout_ms) old.push_back(key);
  }
  for (const std::string& key : old) Release(key, now_ms);
}

int64_t ClusterRateLimiter::ReadyAtMs(const BucketKey& key, int64_t now_ms) const {
  auto it = buckets_.find(key);
  if (it == buckets_.end()) return now_ms;
  const Bucket& b = it->second;
  if (now_ms < b.aimd.cooldown_until_ms()) return b.aimd.cooldown_until_ms();
  if (!b.aimd.Allows(b.in_flight, now_ms)) return now_ms + 50;  // a result will wake the queue
  int64_t wait = std::max(b.requests.MsUntilFits(1), b.tokens.MsUntilFits(1));
  return now_ms + std::max<int64_t>(wait, 1);
}

int64_t ClusterRateLimiter::WaitMs(const BucketKey& key, int64_t calls, int64_t now_ms) const {
  auto it = buckets_.find(key);
  if (it == buckets_.end() || calls <= 0) return 0;
  const Bucket& b = it->second;
  const double n = static_cast<double>(calls);
  int64_t wait = std::max<int64_t>(0, b.aimd.cooldown_until_ms() - now_ms);
  wait = std::max(wait, b.requests.MsUntilLevel(n, now_ms));
  // Tokens: the estimate charged to the latest grant stands for the calls to come.
  wait = std::max(wait, b.tokens.MsUntilLevel(n * b.last_estimate, now_ms));
  // Past the in-flight cap, calls go as results free it; without a latency of its own the
  // limiter counts kCapWaitMs per call beyond the cap (only the order of the waits matters).
  constexpr int64_t kCapWaitMs = 50;
  const int cap = b.aimd.cap();
  if (cap > 0 && b.in_flight + calls > cap) {
    wait = std::max<int64_t>(wait, (b.in_flight + calls - cap) * kCapWaitMs);
  }
  return wait;
}

std::vector<BucketSnapshot> ClusterRateLimiter::Snapshot(int64_t now_ms) const {
  std::vector<BucketSnapshot> out;
  for (const auto& [key, b] : buckets_) {
    BucketSnapshot s;
    s.key = key;
    s.rpm = b.requests.per_minute();
    s.tpm = b.tokens.per_minute();
    s.input_tpm = b.input.per_minute();
    s.output_tpm = b.output.per_minute();
    s.requests_available = b.requests.unlimited() ? -1 : b.requests.level();
    s.tokens_available = b.tokens.unlimited() ? -1 : b.tokens.level();
    s.in_flight = b.in_flight;
    s.cap = b.aimd.cap();
    s.max_concurrency = b.config.max_concurrency;
    s.granted = b.granted;
    s.ok = b.ok;
    s.rate_limited = b.rate_limited;
    s.cooldown_ms = std::max<int64_t>(0, b.aimd.cooldown_until_ms() - now_ms);
    s.updated_ms = now_ms;
    s.learned = {b.est_ratio, b.input_share, b.learned};
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace codesweep
