// The one retry layer for HTTP providers: error classification, Retry-After and rate-limit header
// parsing, capped exponential back-off with jitter, and the Retrier loop that runs attempts.
// A Retrier is a value used by one thread; time and sleeping come in through a Clock and a Sleep
// function so unit tests run it without real waiting.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/clock.h"
#include "base/hash.h"
#include "base/status.h"

namespace codesweep {

using HttpHeaders = std::vector<std::pair<std::string, std::string>>;  // names lower-case

// How one attempt ended.
enum class AttemptClass {
  kOk,
  kRateLimited,  // 429: wait (Retry-After), does not consume an attempt
  kTransient,    // 408/409/5xx/reset/timeout/empty 200: back off, consumes an attempt
  kMalformed,    // unparseable or truncated body: transient once, then permanent
  kPermanent,    // 400/401/403/404/422 and the like: fail now
};

AttemptClass ClassifyHttpStatus(int http_status);
// Status code for a permanent HTTP failure: 401/403 kPermissionDenied, 404 kNotFound, else
// kInvalidArgument.
StatusCode PermanentStatusCode(int http_status);

// First value of a header (names compared case-insensitively), or nullptr.
const std::string* FindHeader(const HttpHeaders& headers, std::string_view name);
// retry-after-ms, else Retry-After (delta seconds or an HTTP date relative to now_wall_ms).
std::optional<int64_t> ParseRetryAfterMs(const HttpHeaders& headers, int64_t now_wall_ms);
// "1s", "6m0s", "20ms", "1h2m3.5s" (OpenAI reset format) or plain seconds -> milliseconds.
std::optional<int64_t> ParseDurationMs(std::string_view text);

// Rate-limit state reported by a provider (x-ratelimit-* or anthropic-ratelimit-*). -1 = absent.
struct RateLimitInfo {
  int64_t limit_requests = -1;
  int64_t remaining_requests = -1;
  int64_t reset_requests_ms = -1;  // time until the request budget is full again
  int64_t limit_tokens = -1;
  int64_t remaining_tokens = -1;
  int64_t reset_tokens_ms = -1;
  int64_t retry_after_ms = -1;  // on a 429
  int http_status = 0;
  bool present() const {
    return limit_requests >= 0 || remaining_requests >= 0 || limit_tokens >= 0 ||
           remaining_tokens >= 0 || retry_after_ms >= 0;
  }
};
RateLimitInfo ParseRateLimitHeaders(const HttpHeaders& headers, int64_t now_wall_ms);
// The inverse for forwarding (worker -> coordinator in CALL_RESULT): x-ratelimit-* names with
// resets as "<n>ms" and retry-after-ms, so ParseRateLimitHeaders reads them back unchanged.
HttpHeaders RateLimitHeaderPairs(const RateLimitInfo& info);

struct RetryPolicy {
  int max_attempts = 5;                    // attempts that may fail transiently (429s not counted)
  int max_rate_limited = 100;              // 429s tolerated per call
  int64_t base_backoff_ms = 500;           // first back-off
  int64_t max_backoff_ms = 30'000;         // cap on one back-off
  double jitter = 0.25;                    // +/- fraction of each back-off
  int64_t default_retry_after_ms = 1'000;  // a 429 without Retry-After
  int64_t deadline_ms = 600'000;           // the whole call, retries and waits included
};

// Back-off before retry number `retry` (1-based): min(cap, base * 2^(retry-1)) +/- jitter.
int64_t BackoffMs(const RetryPolicy& policy, int retry, Rng& rng);

// What one attempt produced. `status` is OK for kOk; otherwise it carries the (redacted) reason.
struct AttemptOutcome {
  AttemptClass cls = AttemptClass::kOk;
  Status status;
  int http_status = 0;
  std::optional<int64_t> retry_after_ms;
  // The error body of a 5xx other than 502/503/504 (those are gateways and overload, transient by
  // nature). The same body on two attempts in a row is a deterministic error the server reports
  // as 5xx ("tools param requires --jinja flag"): the call fails permanently.
  std::string error_body;
};

// True when `failed` repeats `previous` (both transient) with the same HTTP status and the same
// non-empty error body: a deterministic server error, not worth another attempt.
bool IsRepeatedServerError(const AttemptOutcome& previous, const AttemptOutcome& failed);

// Counters for one call, filled as attempts run (also on failure).
struct RetryStats {
  int attempts = 0;      // HTTP attempts, 429s included
  int rate_limited = 0;  // 429s among them
  int http_status = 0;   // of the last attempt
};

class Retrier {
 public:
  using Sleep = std::function<void(Millis)>;
  // Runs before each retry, after its wait, with the attempt that failed (the worker reports it
  // and waits for a new grant here); a non-OK status ends Run() with that status.
  using BeforeRetry = std::function<Status(const AttemptOutcome& failed)>;
  Retrier(RetryPolicy policy, const Clock* clock, Sleep sleep, uint64_t seed)
      : policy_(policy), clock_(clock), sleep_(std::move(sleep)), rng_(seed) {}
  void set_before_retry(BeforeRetry before_retry) { before_retry_ = std::move(before_retry); }

  // Runs `attempt(remaining_ms)` until it succeeds, fails permanently or the budget is spent.
  // `remaining_ms` is the time left before the call's deadline (use it as the attempt timeout).
  Status Run(const std::function<AttemptOutcome(int64_t remaining_ms)>& attempt, RetryStats* stats);

 private:
  // Decides after a failed attempt: OK and *wait_ms to retry, or the final Status.
  Status NextWait(const AttemptOutcome& outcome, int* failures, int* malformed, RetryStats* stats,
                  int64_t* wait_ms);

  RetryPolicy policy_;
  const Clock* clock_;
  Sleep sleep_;
  BeforeRetry before_retry_;
  Rng rng_;
};

}  // namespace codesweep
