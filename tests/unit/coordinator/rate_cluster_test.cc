// ClusterRateLimiter: per-bucket budgets, estimates corrected by usage, 429 back-off, learned
// limits from headers, releases. Times are plain numbers (no clock, no sleeps).
#include <gtest/gtest.h>

#include <deque>

#include "coordinator/ratelimit/cluster_limiter.h"
#include "jobs/llm/retry.h"

namespace codesweep {
namespace {

CallMsg Call(const std::string& key, int64_t est = 100, const std::string& model = "gpt") {
  CallMsg c;
  c.call_key = key;
  c.provider = "openai";
  c.model = model;
  c.key_alias = "K";
  c.est_tokens = est;
  return c;
}

CallResultMsg Ok(const std::string& key, int64_t in, int64_t out,
                 const std::string& model = "gpt") {
  CallResultMsg r;
  r.call_key = key;
  r.provider = "openai";
  r.model = model;
  r.key_alias = "K";
  r.ok = true;
  r.tokens_in = in;
  r.tokens_out = out;
  r.http_status = 200;
  return r;
}

CallResultMsg Limited(const std::string& key, int64_t retry_after_ms) {
  CallResultMsg r = Ok(key, 0, 0);
  r.ok = false;
  r.http_status = 429;
  r.rate_limited = 1;
  RateLimitInfo info;
  info.retry_after_ms = retry_after_ms;
  r.headers = RateLimitHeaderPairs(info);
  return r;
}

RateLimitConfig Rpm(double rpm, double tpm = 0) {
  RateLimitConfig c;
  c.requests_per_minute = rpm;
  c.tokens_per_minute = tpm;
  return c;
}

const BucketKey kGpt{"openai", "gpt", "K"};

TEST(ClusterLimiterTest, UnconfiguredBucketIsUnlimited) {
  ClusterRateLimiter l;
  for (int i = 0; i < 10'000; ++i) ASSERT_TRUE(l.TryAcquire(Call("k" + std::to_string(i)), 0));
}

TEST(ClusterLimiterTest, RequestsPerMinuteWithContinuousRefill) {
  RateLimiterOptions o;
  o.burst_ms = 1'000;
  o.headroom_ms = 0;
  ClusterRateLimiter l(o);
  l.Configure(kGpt, Rpm(600));  // 10/s, burst of 10
  int granted = 0;
  for (int i = 0; i < 100; ++i) granted += l.TryAcquire(Call("a" + std::to_string(i)), 0);
  EXPECT_EQ(granted, 10);
  EXPECT_FALSE(l.TryAcquire(Call("late"), 50));
  EXPECT_EQ(l.ReadyAtMs(kGpt, 50), 100);
  EXPECT_TRUE(l.TryAcquire(Call("late"), 100));
  // Over 10 s of steady asking exactly 100 more calls go.
  granted = 0;
  for (int t = 101; t <= 10'100; ++t) granted += l.TryAcquire(Call("s" + std::to_string(t)), t);
  EXPECT_EQ(granted, 100);
}

TEST(ClusterLimiterTest, BucketsAreIndependent) {
  RateLimiterOptions o;
  o.burst_ms = 1'000;
  ClusterRateLimiter l(o);
  l.Configure(kGpt, Rpm(60));
  EXPECT_TRUE(l.TryAcquire(Call("a"), 0));
  EXPECT_FALSE(l.TryAcquire(Call("b"), 0));
  EXPECT_TRUE(l.TryAcquire(Call("c", 100, "other"), 0));  // another model: its own budget
}

TEST(ClusterLimiterTest, StrictestConfigurationWins) {
  RateLimiterOptions o;
  o.burst_ms = 60'000;
  ClusterRateLimiter l(o);
  l.Configure(kGpt, Rpm(600));
  l.Configure(kGpt, Rpm(120));
  l.Configure(kGpt, Rpm(0));  // unlimited does not loosen it
  auto snap = l.Snapshot(0);
  ASSERT_EQ(snap.size(), 1u);
  EXPECT_NEAR(snap[0].rpm, 120, 1e-6);
}

TEST(ClusterLimiterTest, TokenEstimateIsCorrectedByActualUsage) {
  RateLimiterOptions o;
  o.burst_ms = 60'000;
  o.estimate_margin = 1.0;
  o.learn_weight = 0;  // keep the estimate ratio fixed for exact arithmetic
  o.cold_start_probes = 0;
  o.headroom_ms = 0;
  ClusterRateLimiter l(o);
  l.Configure(kGpt, Rpm(0, 1'000));  // 1,000 tokens/min
  ASSERT_TRUE(l.TryAcquire(Call("a", 600), 0));
  EXPECT_FALSE(l.TryAcquire(Call("b", 600), 0));  // 400 left
  l.OnResult(Ok("a", 50, 50), 0);                 // it cost only 100: 500 come back
  EXPECT_TRUE(l.TryAcquire(Call("b", 600), 0));
  EXPECT_NEAR(l.Snapshot(0)[0].tokens_available, 300, 1e-6);
  l.OnResult(Ok("b", 700, 300), 0);  // it cost 1,000: a debt of 400
  EXPECT_NEAR(l.Snapshot(0)[0].tokens_available, -100, 1e-6);
}

TEST(ClusterLimiterTest, LearnedRatioShrinksOverEstimates) {
  ClusterRateLimiter l;
  l.Configure(kGpt, Rpm(0, 1'000'000));
  EXPECT_EQ(l.EstimateFor(Call("x", 1'000)), 1'000);
  for (int i = 0; i < 100; ++i) {
    std::string key = "k" + std::to_string(i);
    ASSERT_TRUE(l.TryAcquire(Call(key, 1'000), i));
    l.OnResult(Ok(key, 100, 100), i);  // really 200 of an estimated 1,000
  }
  EXPECT_NEAR(static_cast<double>(l.EstimateFor(Call("x", 1'000))), 220, 5);
  EXPECT_EQ(l.EstimateFor(Call("x", 0)), 0);
}

TEST(ClusterLimiterTest, FirstResultAlreadySetsTheLearnedRatio) {
  ClusterRateLimiter l;
  l.Configure(kGpt, Rpm(0, 1'000'000));
  ASSERT_TRUE(l.TryAcquire(Call("a", 2'050), 0));
  l.OnResult(Ok("a", 45, 50), 0);  // 95 of an estimated 2,050 (prompt / 4 + max_tokens 2,000)
  EXPECT_EQ(l.EstimateFor(Call("x", 2'050)), 104);  // 95 x the 1.1 margin
}

// The peer benchmark's workload (1,200 requests/min, 400,000 tokens/min, 1 s buckets, 32 slots,
// 1 s calls of 95 tokens that the worker estimates at 2,050). Before any result the worker's
// estimate is charged (the tokens bucket holds 3 of them); from the first result on the requests
// limit must bind. An EWMA starting at 1.0 kept charging ~2,000 tokens per call for dozens of
// results, so the tokens bucket let ~3 calls start per second instead of 20.
TEST(ClusterLimiterTest, RequestsLimitBindsFromTheFirstResult) {
  RateLimiterOptions o;
  o.burst_ms = 1'000;
  ClusterRateLimiter l(o);
  l.Configure(kGpt, Rpm(1'200, 400'000));
  std::deque<std::pair<int64_t, std::string>> running;  // (finishes at, call key)
  int next = 0, after_first_result = 0;
  int64_t first_result_ms = -1;
  for (int64_t t = 0; t < 3'000; ++t) {
    while (!running.empty() && running.front().first <= t) {
      l.OnResult(Ok(running.front().second, 45, 50), t);
      running.pop_front();
      if (first_result_ms < 0) first_result_ms = t;
    }
    while (running.size() < 32) {
      std::string key = "c" + std::to_string(next);
      if (!l.TryAcquire(Call(key, 2'050), t)) break;
      ++next;
      if (first_result_ms >= 0) ++after_first_result;
      running.emplace_back(t + 1'000, key);
    }
  }
  ASSERT_EQ(first_result_ms, 1'000);
  // 2 s at 20 requests/s, plus what the requests bucket refilled meanwhile (at most its 20).
  EXPECT_GE(after_first_result, 0.95 * 40);
  EXPECT_LE(after_first_result, 60);
}

// The provider's window is 1 s and so is ours: the headroom keeps our bucket 100 ms of refill
// below it, so that a grant reaching the provider earlier than its neighbours still fits there.
TEST(ClusterLimiterTest, HeadroomKeepsTheBucketBelowTheProvidersWindow) {
  RateLimiterOptions o;
  o.burst_ms = 1'000;
  ClusterRateLimiter l(o);
  l.Configure(kGpt, Rpm(1'200));  // 20/s: the provider admits 20 at once
  int granted = 0;
  for (int i = 0; i < 40; ++i) granted += l.TryAcquire(Call("a" + std::to_string(i)), 0);
  EXPECT_EQ(granted, 18);  // 0.9 s of refill
  // The rate itself is the limit: 20 more over the next second.
  granted = 0;
  for (int t = 1; t <= 1'000; ++t) granted += l.TryAcquire(Call("s" + std::to_string(t)), t);
  EXPECT_EQ(granted, 20);
}

// Before the first result the worker's estimate (2,050 for a call of ~95 tokens) was charged
// whole: against a 1,000-token bucket one call went, and nothing else until its result came
// back. Now 4 probes go at once, charged a quarter of the bucket each.
TEST(ClusterLimiterTest, ColdStartChargesAQuarterOfTheBucketPerCallUntilTheFirstResult) {
  RateLimiterOptions o;
  o.burst_ms = 1'000;
  o.headroom_ms = 0;
  ClusterRateLimiter l(o);
  l.Configure(kGpt, Rpm(0, 60'000));  // 1,000 tokens/s
  int granted = 0;
  for (int i = 0; i < 10; ++i) granted += l.TryAcquire(Call("c" + std::to_string(i), 2'050), 0);
  EXPECT_EQ(granted, 4);
  l.OnResult(Ok("c0", 45, 50), 300);  // reconciled: 250 charged, 95 used
  EXPECT_NEAR(l.Snapshot(300)[0].tokens_available, 300 + 155, 1e-6);
  EXPECT_EQ(l.EstimateFor(Call("x", 2'050)), 104);  // from now on the learned ratio
}

TEST(ClusterLimiterTest, SeededRatioIsChargedFromTheFirstCall) {
  RateLimiterOptions o;
  o.burst_ms = 1'000;
  ClusterRateLimiter l(o);
  l.Configure(kGpt, Rpm(0, 60'000));
  l.Seed(kGpt, {0.05, 0.5, 200});
  EXPECT_EQ(l.EstimateFor(Call("x", 2'000)), 110);
  // The seed counts as 10 results (the EWMA's memory): this run's results move it at once.
  ASSERT_TRUE(l.TryAcquire(Call("a", 2'000), 0));
  l.OnResult(Ok("a", 100, 100), 0);  // a ratio of 0.1
  // (0.9 x 0.05 + 0.1 x 0.1) x 2,000 x the 1.1 margin
  EXPECT_NEAR(static_cast<double>(l.EstimateFor(Call("x", 2'000))), 121, 1);
  l.Seed(kGpt, {0.5, 0.5, 200});  // ignored: the bucket has results of its own
  EXPECT_NEAR(static_cast<double>(l.EstimateFor(Call("x", 2'000))), 121, 1);
}

// With a known limit a single 429 means our buckets ran ahead of the provider's: resynchronise
// and pause, but keep the in-flight cap (halving it cost seconds at half rate in the peer
// benchmark). A call granted after that and refused again does halve it.
TEST(ClusterLimiterTest, AnIsolated429WithAKnownLimitResynchronisesWithoutHalving) {
  RateLimiterOptions o;
  o.burst_ms = 1'000;
  ClusterRateLimiter l(o);
  l.Configure(kGpt, Rpm(1'200));
  for (int i = 0; i < 8; ++i) ASSERT_TRUE(l.TryAcquire(Call("k" + std::to_string(i)), 0));
  CallResultMsg r = Limited("k0", 50);
  RateLimitInfo info;
  info.retry_after_ms = 50;
  info.remaining_requests = 0;
  r.headers = RateLimitHeaderPairs(info);
  l.OnResult(r, 10);
  auto s = l.Snapshot(10)[0];
  EXPECT_EQ(s.cap, 0);  // no cap: the bucket sets the rate
  EXPECT_EQ(s.cooldown_ms, 50);
  EXPECT_NEAR(s.requests_available, 0, 1e-6);
  l.OnResult(Limited("k1", 50), 20);  // granted before the resynchronisation: pause only
  EXPECT_EQ(l.Snapshot(20)[0].cap, 0);
  ASSERT_TRUE(l.TryAcquire(Call("late"), 500));
  l.OnResult(Limited("late", 50), 600);  // refused again after it: the limit is wrong, AIMD
  EXPECT_EQ(l.Snapshot(600)[0].cap, 3);  // half of the 7 in flight before it
}

TEST(ClusterLimiterTest, RateLimitedCallHalvesCapAndCoolsDown) {
  ClusterRateLimiter l;
  for (int i = 0; i < 8; ++i) ASSERT_TRUE(l.TryAcquire(Call("k" + std::to_string(i)), 0));
  l.OnResult(Limited("k0", 2'000), 10);
  auto s = l.Snapshot(10)[0];
  EXPECT_EQ(s.cap, 4);
  EXPECT_EQ(s.in_flight, 7);
  EXPECT_EQ(s.rate_limited, 1);
  EXPECT_EQ(s.cooldown_ms, 2'000);
  EXPECT_FALSE(l.TryAcquire(Call("n"), 1'000));  // cooling down
  EXPECT_EQ(l.ReadyAtMs(kGpt, 1'000), 2'010);
  l.OnResult(Limited("k1", 100), 20);  // granted before the decrease: same episode
  EXPECT_EQ(l.Snapshot(20)[0].cap, 4);
  for (int i = 2; i < 5; ++i) l.OnResult(Ok("k" + std::to_string(i), 1, 1), 30);
  EXPECT_EQ(l.Snapshot(30)[0].in_flight, 3);
  EXPECT_TRUE(l.TryAcquire(Call("n"), 2'010));
  EXPECT_FALSE(l.TryAcquire(Call("m"), 2'010));  // 4 in flight = the cap
}

TEST(ClusterLimiterTest, A429ResynchronisesToTheProvidersRemainingQuota) {
  RateLimiterOptions o;
  o.burst_ms = 60'000;
  ClusterRateLimiter l(o);
  l.Configure(kGpt, Rpm(0, 10'000));
  ASSERT_TRUE(l.TryAcquire(Call("a", 100), 0));
  CallResultMsg r = Limited("a", 0);
  RateLimitInfo info;
  info.retry_after_ms = 0;
  info.remaining_tokens = 40;
  r.headers = RateLimitHeaderPairs(info);
  l.OnResult(r, 0);
  EXPECT_NEAR(l.Snapshot(0)[0].tokens_available, 40, 1e-6);
}

TEST(ClusterLimiterTest, ReleaseFreesTheSlotOfALostWorker) {
  RateLimitConfig c;
  c.max_concurrency = 1;
  ClusterRateLimiter l;
  l.Configure(kGpt, c);
  ASSERT_TRUE(l.TryAcquire(Call("a"), 0));
  EXPECT_FALSE(l.TryAcquire(Call("b"), 0));
  l.Release("a", 0);
  EXPECT_TRUE(l.TryAcquire(Call("b"), 0));
}

TEST(ClusterLimiterTest, SilentGrantsExpire) {
  RateLimiterOptions o;
  o.grant_timeout_ms = 5'000;
  ClusterRateLimiter l(o);
  RateLimitConfig c;
  c.max_concurrency = 1;
  l.Configure(kGpt, c);
  ASSERT_TRUE(l.TryAcquire(Call("a"), 0));
  EXPECT_FALSE(l.TryAcquire(Call("b"), 4'000));
  EXPECT_TRUE(l.TryAcquire(Call("b"), 6'000));
}

TEST(ClusterLimiterTest, ProviderReportingLessQuotaThanBelievedSlowsUsDown) {
  RateLimiterOptions o;
  o.burst_ms = 1'000;
  o.headroom_ms = 0;
  ClusterRateLimiter l(o);
  l.Configure(kGpt, Rpm(6'000));  // capacity 100
  ASSERT_TRUE(l.TryAcquire(Call("a"), 0));
  CallResultMsg r = Ok("a", 1, 1);
  RateLimitInfo info;
  info.remaining_requests = 90;  // agrees with us (99) within in-flight + refill: no change
  r.headers = RateLimitHeaderPairs(info);
  r.latency_ms = 100;  // 10 requests of refill
  l.OnResult(r, 0);
  EXPECT_NEAR(l.Snapshot(0)[0].requests_available, 99, 1e-6);
  ASSERT_TRUE(l.TryAcquire(Call("b"), 0));
  r.call_key = "b";
  info.remaining_requests = 5;  // someone else uses the key
  r.headers = RateLimitHeaderPairs(info);
  l.OnResult(r, 0);
  EXPECT_NEAR(l.Snapshot(0)[0].requests_available, 5, 1e-6);
}

TEST(ClusterLimiterTest, LowerLimitReportedByTheProviderIsAdopted) {
  RateLimiterOptions o;
  o.burst_ms = 1'000;
  ClusterRateLimiter l(o);
  l.Configure(kGpt, Rpm(6'000));
  ASSERT_TRUE(l.TryAcquire(Call("a"), 0));
  CallResultMsg r = Ok("a", 1, 1);
  RateLimitInfo info;
  info.limit_requests = 3'000;
  info.remaining_requests = 10;
  r.headers = RateLimitHeaderPairs(info);
  l.OnResult(r, 0);
  auto s = l.Snapshot(0)[0];
  EXPECT_NEAR(s.rpm, 3'000, 1e-6);
  EXPECT_LE(s.requests_available, 10);
}

TEST(ClusterLimiterTest, ReserveLeavesAShareForOthers) {
  RateLimiterOptions o;
  o.burst_ms = 60'000;
  o.headroom_ms = 0;
  ClusterRateLimiter l(o);
  RateLimitConfig c = Rpm(100);
  c.reserve_fraction = 0.2;
  l.Configure(kGpt, c);
  int granted = 0;
  for (int i = 0; i < 200; ++i) granted += l.TryAcquire(Call("k" + std::to_string(i)), 0);
  EXPECT_EQ(granted, 80);
}

}  // namespace
}  // namespace codesweep
