// Unit tests for error classification, header parsing, back-off and the Retrier loop (fake clock).
#include "jobs/llm/retry.h"

#include <gtest/gtest.h>

#include <deque>

namespace codesweep {
namespace {

TEST(Classify, StatusCodes) {
  EXPECT_EQ(ClassifyHttpStatus(200), AttemptClass::kOk);
  EXPECT_EQ(ClassifyHttpStatus(429), AttemptClass::kRateLimited);
  for (int s : {408, 409, 500, 502, 503, 504, 529}) {
    EXPECT_EQ(ClassifyHttpStatus(s), AttemptClass::kTransient) << s;
  }
  for (int s : {400, 401, 403, 404, 422}) {
    EXPECT_EQ(ClassifyHttpStatus(s), AttemptClass::kPermanent) << s;
  }
  EXPECT_EQ(PermanentStatusCode(401), StatusCode::kPermissionDenied);
  EXPECT_EQ(PermanentStatusCode(403), StatusCode::kPermissionDenied);
  EXPECT_EQ(PermanentStatusCode(404), StatusCode::kNotFound);
  EXPECT_EQ(PermanentStatusCode(422), StatusCode::kInvalidArgument);
}

TEST(Headers, RetryAfter) {
  const int64_t now = 1'445'412'470'000;  // 2015-10-21T07:27:50Z
  EXPECT_EQ(ParseRetryAfterMs({{"retry-after", "3"}}, now), 3000);
  EXPECT_EQ(ParseRetryAfterMs({{"Retry-After", "1.5"}}, now), 1500);
  EXPECT_EQ(ParseRetryAfterMs({{"retry-after-ms", "250"}, {"retry-after", "9"}}, now), 250);
  EXPECT_EQ(ParseRetryAfterMs({{"retry-after", "Wed, 21 Oct 2015 07:28:00 GMT"}}, now), 10'000);
  EXPECT_FALSE(ParseRetryAfterMs({{"retry-after", "soon"}}, now).has_value());
  EXPECT_FALSE(ParseRetryAfterMs({}, now).has_value());
}

TEST(Headers, Durations) {
  EXPECT_EQ(ParseDurationMs("1s"), 1000);
  EXPECT_EQ(ParseDurationMs("6m0s"), 360'000);
  EXPECT_EQ(ParseDurationMs("20ms"), 20);
  EXPECT_EQ(ParseDurationMs("1h2m3.5s"), 3'723'500);
  EXPECT_EQ(ParseDurationMs("2"), 2000);
  EXPECT_FALSE(ParseDurationMs("abc").has_value());
  EXPECT_FALSE(ParseDurationMs("").has_value());
  EXPECT_FALSE(ParseDurationMs("5x").has_value());
}

TEST(Headers, RateLimitOpenAi) {
  RateLimitInfo info = ParseRateLimitHeaders({{"x-ratelimit-limit-requests", "600"},
                                              {"x-ratelimit-remaining-requests", "599"},
                                              {"x-ratelimit-reset-requests", "100ms"},
                                              {"x-ratelimit-limit-tokens", "60000"},
                                              {"x-ratelimit-remaining-tokens", "59000"},
                                              {"x-ratelimit-reset-tokens", "1s"}},
                                             0);
  EXPECT_TRUE(info.present());
  EXPECT_EQ(info.limit_requests, 600);
  EXPECT_EQ(info.remaining_requests, 599);
  EXPECT_EQ(info.reset_requests_ms, 100);
  EXPECT_EQ(info.limit_tokens, 60000);
  EXPECT_EQ(info.remaining_tokens, 59000);
  EXPECT_EQ(info.reset_tokens_ms, 1000);
  EXPECT_EQ(info.retry_after_ms, -1);
}

TEST(Headers, RateLimitAnthropic) {
  const int64_t now = 1'704'067'200'000;  // 2024-01-01T00:00:00Z
  RateLimitInfo info =
      ParseRateLimitHeaders({{"anthropic-ratelimit-requests-limit", "50"},
                             {"anthropic-ratelimit-requests-remaining", "0"},
                             {"anthropic-ratelimit-requests-reset", "2024-01-01T00:00:05Z"},
                             {"anthropic-ratelimit-tokens-remaining", "1000"},
                             {"retry-after", "5"}},
                            now);
  EXPECT_EQ(info.limit_requests, 50);
  EXPECT_EQ(info.remaining_requests, 0);
  EXPECT_EQ(info.reset_requests_ms, 5000);
  EXPECT_EQ(info.remaining_tokens, 1000);
  EXPECT_EQ(info.retry_after_ms, 5000);
  EXPECT_FALSE(ParseRateLimitHeaders({{"content-type", "x"}}, now).present());
}

TEST(Backoff, CappedExponentialWithinJitter) {
  RetryPolicy p;
  p.base_backoff_ms = 100;
  p.max_backoff_ms = 1000;
  p.jitter = 0.2;
  Rng rng(7);
  for (int trial = 0; trial < 50; ++trial) {
    for (int retry = 1; retry <= 8; ++retry) {
      const double nominal = std::min(100.0 * (1 << (retry - 1)), 1000.0);
      const int64_t b = BackoffMs(p, retry, rng);
      EXPECT_GE(b, static_cast<int64_t>(nominal * 0.8) - 1) << retry;
      EXPECT_LE(b, static_cast<int64_t>(nominal * 1.2) + 1) << retry;
    }
  }
  p.jitter = 0;
  EXPECT_EQ(BackoffMs(p, 1, rng), 100);
  EXPECT_EQ(BackoffMs(p, 3, rng), 400);
  EXPECT_EQ(BackoffMs(p, 30, rng), 1000);
}

TEST(Backoff, SameSeedSameSchedule) {
  RetryPolicy p;
  Rng a(42), b(42);
  for (int i = 1; i < 10; ++i) EXPECT_EQ(BackoffMs(p, i, a), BackoffMs(p, i, b));
}

// Runs a Retrier over a script of outcomes, recording waits on a fake clock.
struct Harness {
  FakeClock clock;
  std::vector<int64_t> waits;
  std::deque<AttemptOutcome> script;
  std::vector<int64_t> remaining_seen;
  RetryStats stats;
  Retrier::BeforeRetry before_retry;

  Status Run(RetryPolicy policy) {
    Retrier r(
        policy, &clock,
        [this](Millis d) {
          waits.push_back(d.count());
          clock.Advance(d);
        },
        1);
    r.set_before_retry(before_retry);
    return r.Run(
        [this](int64_t remaining) {
          remaining_seen.push_back(remaining);
          if (script.empty()) return AttemptOutcome{AttemptClass::kOk, Status::OK(), 200};
          AttemptOutcome o = script.front();
          script.pop_front();
          return o;
        },
        &stats);
  }
};

AttemptOutcome Fail(AttemptClass cls, int http, std::optional<int64_t> retry_after = {}) {
  StatusCode code = cls == AttemptClass::kRateLimited ? StatusCode::kResourceExhausted
                    : cls == AttemptClass::kPermanent ? StatusCode::kInvalidArgument
                                                      : StatusCode::kUnavailable;
  return {cls, Status(code, "boom"), http, retry_after};
}

RetryPolicy NoJitter() {
  RetryPolicy p;
  p.jitter = 0;
  p.base_backoff_ms = 100;
  p.max_backoff_ms = 400;
  p.max_attempts = 4;
  return p;
}

TEST(Retrier, TransientThenSuccess) {
  Harness h;
  h.script = {Fail(AttemptClass::kTransient, 503), Fail(AttemptClass::kTransient, 500),
              Fail(AttemptClass::kTransient, 502)};
  ASSERT_TRUE(h.Run(NoJitter()).ok());
  EXPECT_EQ(h.waits, (std::vector<int64_t>{100, 200, 400}));
  EXPECT_EQ(h.stats.attempts, 4);
  EXPECT_EQ(h.stats.rate_limited, 0);
  EXPECT_EQ(h.stats.http_status, 200);
}

TEST(Retrier, BeforeRetryRunsAfterEachWaitAndCanEndTheCall) {
  Harness h;
  h.script = {Fail(AttemptClass::kTransient, 503), Fail(AttemptClass::kTransient, 500)};
  std::vector<std::pair<int, size_t>> seen;  // (failed status, waits so far)
  h.before_retry = [&](const AttemptOutcome& failed) {
    seen.emplace_back(failed.http_status, h.waits.size());
    return Status::OK();
  };
  ASSERT_TRUE(h.Run(NoJitter()).ok());
  EXPECT_EQ(seen, (std::vector<std::pair<int, size_t>>{{503, 1}, {500, 2}}));
  EXPECT_EQ(h.stats.attempts, 3);

  Harness stop;
  stop.script = {Fail(AttemptClass::kTransient, 503)};
  stop.before_retry = [](const AttemptOutcome&) { return Status::AlreadyExists("cached"); };
  EXPECT_EQ(stop.Run(NoJitter()).code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(stop.stats.attempts, 1);
}

TEST(Retrier, TransientExhaustsAttempts) {
  Harness h;
  for (int i = 0; i < 10; ++i) h.script.push_back(Fail(AttemptClass::kTransient, 500));
  Status s = h.Run(NoJitter());
  EXPECT_EQ(s.code(), StatusCode::kUnavailable);
  EXPECT_EQ(h.stats.attempts, 4);
}

TEST(Retrier, RateLimitHonoursRetryAfterAndKeepsAttempts) {
  Harness h;
  for (int i = 0; i < 6; ++i) h.script.push_back(Fail(AttemptClass::kRateLimited, 429, 1500));
  h.script.push_back(Fail(AttemptClass::kTransient, 503));
  ASSERT_TRUE(h.Run(NoJitter()).ok());  // 6 429s do not use up max_attempts = 4
  EXPECT_EQ(h.waits, (std::vector<int64_t>{1500, 1500, 1500, 1500, 1500, 1500, 100}));
  EXPECT_EQ(h.stats.attempts, 8);
  EXPECT_EQ(h.stats.rate_limited, 6);
}

TEST(Retrier, RateLimitWithoutHeaderUsesDefault) {
  Harness h;
  h.script = {Fail(AttemptClass::kRateLimited, 429)};
  RetryPolicy p = NoJitter();
  p.default_retry_after_ms = 777;
  ASSERT_TRUE(h.Run(p).ok());
  EXPECT_EQ(h.waits, (std::vector<int64_t>{777}));
}

TEST(Retrier, RateLimitCapped) {
  Harness h;
  for (int i = 0; i < 10; ++i) h.script.push_back(Fail(AttemptClass::kRateLimited, 429, 10));
  RetryPolicy p = NoJitter();
  p.max_rate_limited = 3;
  EXPECT_EQ(h.Run(p).code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(h.stats.rate_limited, 4);
}

TEST(Retrier, RetryAfterPastDeadlineFailsAtOnce) {
  Harness h;
  h.script = {Fail(AttemptClass::kRateLimited, 429, 60'000)};
  RetryPolicy p = NoJitter();
  p.deadline_ms = 10'000;
  EXPECT_EQ(h.Run(p).code(), StatusCode::kResourceExhausted);
  EXPECT_TRUE(h.waits.empty());
}

TEST(Retrier, PermanentFailsAtOnce) {
  Harness h;
  h.script = {Fail(AttemptClass::kPermanent, 401)};
  Status s = h.Run(NoJitter());
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(h.stats.attempts, 1);
  EXPECT_TRUE(h.waits.empty());
}

TEST(Retrier, MalformedTransientOnceThenPermanent) {
  Harness h;
  h.script = {Fail(AttemptClass::kMalformed, 200)};
  ASSERT_TRUE(h.Run(NoJitter()).ok());
  EXPECT_EQ(h.stats.attempts, 2);

  Harness h2;
  h2.script = {Fail(AttemptClass::kMalformed, 200), Fail(AttemptClass::kMalformed, 200)};
  Status s = h2.Run(NoJitter());
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("malformed"), std::string::npos);
  EXPECT_EQ(h2.stats.attempts, 2);
}

TEST(Retrier, DeadlineBoundsAttemptsAndTimeouts) {
  Harness h;
  for (int i = 0; i < 10; ++i) h.script.push_back(Fail(AttemptClass::kTransient, 500));
  RetryPolicy p = NoJitter();
  p.max_attempts = 100;
  p.deadline_ms = 1000;
  Status s = h.Run(p);
  EXPECT_EQ(s.code(), StatusCode::kDeadlineExceeded);
  ASSERT_FALSE(h.remaining_seen.empty());
  EXPECT_EQ(h.remaining_seen[0], 1000);
  for (size_t i = 1; i < h.remaining_seen.size(); ++i) {
    EXPECT_LT(h.remaining_seen[i], h.remaining_seen[i - 1]);
  }
}

}  // namespace
}  // namespace codesweep
