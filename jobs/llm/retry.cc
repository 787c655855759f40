// Error classification, header parsing, back-off and the retry loop.
#include "jobs/llm/retry.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <ctime>

#include "base/log.h"

namespace codesweep {
namespace {

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

std::optional<double> ParseNumber(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) {
    text.remove_prefix(1);
  }
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) {
    text.remove_suffix(1);
  }
  double value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || ptr != text.data() + text.size() || !std::isfinite(value)) {
    return std::nullopt;
  }
  return value;
}

int64_t HeaderInt(const HttpHeaders& headers, std::string_view name) {
  const std::string* v = FindHeader(headers, name);
  if (v == nullptr) return -1;
  std::optional<double> n = ParseNumber(*v);
  return n && *n >= 0 ? static_cast<int64_t>(*n) : -1;
}

// RFC 3339 UTC time ("2024-01-01T00:00:05Z", fractions ignored) -> ms since the epoch.
std::optional<int64_t> ParseRfc3339Ms(const std::string& text) {
  std::tm tm{};
  const char* end = strptime(text.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  if (end == nullptr) return std::nullopt;
  return static_cast<int64_t>(timegm(&tm)) * 1000;
}

// An HTTP date ("Wed, 21 Oct 2015 07:28:00 GMT") -> ms since the epoch.
std::optional<int64_t> ParseHttpDateMs(const std::string& text) {
  std::tm tm{};
  if (strptime(text.c_str(), "%a, %d %b %Y %H:%M:%S", &tm) == nullptr) return std::nullopt;
  return static_cast<int64_t>(timegm(&tm)) * 1000;
}

// An anthropic reset header is an RFC 3339 time; an x-ratelimit reset is a duration.
int64_t ResetMs(const HttpHeaders& headers, std::string_view name, int64_t now_wall_ms) {
  const std::string* v = FindHeader(headers, name);
  if (v == nullptr) return -1;
  if (std::optional<int64_t> d = ParseDurationMs(*v)) return *d;
  if (std::optional<int64_t> t = ParseRfc3339Ms(*v)) return std::max<int64_t>(0, *t - now_wall_ms);
  return -1;
}

}  // namespace

AttemptClass ClassifyHttpStatus(int s) {
  if (s >= 200 && s < 300) return AttemptClass::kOk;
  if (s == 429) return AttemptClass::kRateLimited;
  if (s == 408 || s == 409 || s >= 500) return AttemptClass::kTransient;
  return AttemptClass::kPermanent;
}

StatusCode PermanentStatusCode(int s) {
  if (s == 401 || s == 403) return StatusCode::kPermissionDenied;
  if (s == 404) return StatusCode::kNotFound;
  return StatusCode::kInvalidArgument;
}

const std::string* FindHeader(const HttpHeaders& headers, std::string_view name) {
  for (const auto& [key, value] : headers) {
    if (EqualsIgnoreCase(key, name)) return &value;
  }
  return nullptr;
}

std::optional<int64_t> ParseRetryAfterMs(const HttpHeaders& headers, int64_t now_wall_ms) {
  if (const std::string* ms = FindHeader(headers, "retry-after-ms")) {
    if (std::optional<double> v = ParseNumber(*ms); v && *v >= 0) return static_cast<int64_t>(*v);
  }
  const std::string* ra = FindHeader(headers, "retry-after");
  if (ra == nullptr) return std::nullopt;
  if (std::optional<double> v = ParseNumber(*ra); v && *v >= 0) {
    return static_cast<int64_t>(std::ceil(*v * 1000));
  }
  if (std::optional<int64_t> t = ParseHttpDateMs(*ra))
    return std::max<int64_t>(0, *t - now_wall_ms);
  return std::nullopt;
}

std::optional<int64_t> ParseDurationMs(std::string_view text) {
  if (std::optional<double> plain = ParseNumber(text)) {
    return *plain >= 0 ? std::optional<int64_t>(static_cast<int64_t>(*plain * 1000)) : std::nullopt;
  }
  double total_ms = 0;
  size_t i = 0;
  bool any = false;
  while (i < text.size()) {
    size_t j = i;
    while (j < text.size() &&
           (std::isdigit(static_cast<unsigned char>(text[j])) || text[j] == '.')) {
      ++j;
    }
    std::optional<double> n = ParseNumber(text.substr(i, j - i));
    if (!n || j == i) return std::nullopt;
    std::string_view unit = text.substr(j);
    double scale = 0;
    size_t len = 1;
    if (unit.starts_with("ms"))
      scale = 1, len = 2;
    else if (unit.starts_with("h"))
      scale = 3'600'000;
    else if (unit.starts_with("m"))
      scale = 60'000;
    else if (unit.starts_with("s"))
      scale = 1'000;
    else
      return std::nullopt;
    total_ms += *n * scale;
    i = j + len;
    any = true;
  }
  if (!any) return std::nullopt;
  return static_cast<int64_t>(std::ceil(total_ms));
}

RateLimitInfo ParseRateLimitHeaders(const HttpHeaders& h, int64_t now_wall_ms) {
  RateLimitInfo info;
  info.limit_requests = HeaderInt(h, "x-ratelimit-limit-requests");
  info.remaining_requests = HeaderInt(h, "x-ratelimit-remaining-requests");
  info.reset_requests_ms = ResetMs(h, "x-ratelimit-reset-requests", now_wall_ms);
  info.limit_tokens = HeaderInt(h, "x-ratelimit-limit-tokens");
  info.remaining_tokens = HeaderInt(h, "x-ratelimit-remaining-tokens");
  info.reset_tokens_ms = ResetMs(h, "x-ratelimit-reset-tokens", now_wall_ms);
  auto fill = [&](int64_t* field, std::string_view name, bool reset) {
    if (*field >= 0) return;
    *field = reset ? ResetMs(h, name, now_wall_ms) : HeaderInt(h, name);
  };
  fill(&info.limit_requests, "anthropic-ratelimit-requests-limit", false);
  fill(&info.remaining_requests, "anthropic-ratelimit-requests-remaining", false);
  fill(&info.reset_requests_ms, "anthropic-ratelimit-requests-reset", true);
  fill(&info.limit_tokens, "anthropic-ratelimit-tokens-limit", false);
  fill(&info.remaining_tokens, "anthropic-ratelimit-tokens-remaining", false);
  fill(&info.reset_tokens_ms, "anthropic-ratelimit-tokens-reset", true);
  if (std::optional<int64_t> ra = ParseRetryAfterMs(h, now_wall_ms)) info.retry_after_ms = *ra;
  return info;
}

HttpHeaders RateLimitHeaderPairs(const RateLimitInfo& info) {
  HttpHeaders out;
  auto add = [&](const char* name, int64_t v, const char* suffix) {
    if (v >= 0) out.emplace_back(name, std::to_string(v) + suffix);
  };
  add("x-ratelimit-limit-requests", info.limit_requests, "");
  add("x-ratelimit-remaining-requests", info.remaining_requests, "");
  add("x-ratelimit-reset-requests", info.reset_requests_ms, "ms");
  add("x-ratelimit-limit-tokens", info.limit_tokens, "");
  add("x-ratelimit-remaining-tokens", info.remaining_tokens, "");
  add("x-ratelimit-reset-tokens", info.reset_tokens_ms, "ms");
  add("retry-after-ms", info.retry_after_ms, "");
  return out;
}

int64_t BackoffMs(const RetryPolicy& policy, int retry, Rng& rng) {
  const int shift = std::clamp(retry - 1, 0, 30);
  const double raw = static_cast<double>(policy.base_backoff_ms) * std::ldexp(1.0, shift);
  const double capped = std::min(raw, static_cast<double>(policy.max_backoff_ms));
  const double jitter = std::clamp(policy.jitter, 0.0, 1.0);
  const double factor = 1.0 + jitter * (2.0 * rng.Unit() - 1.0);
  return std::max<int64_t>(0, static_cast<int64_t>(capped * factor));
}

bool IsRepeatedServerError(const AttemptOutcome& previous, const AttemptOutcome& failed) {
  return previous.cls == AttemptClass::kTransient && failed.cls == AttemptClass::kTransient &&
         !failed.error_body.empty() && previous.http_status == failed.http_status &&
         previous.error_body == failed.error_body;
}

Status Retrier::NextWait(const AttemptOutcome& o, int* failures, int* malformed, RetryStats* stats,
                         int64_t* wait_ms) {
  switch (o.cls) {
    case AttemptClass::kOk:
      return Status::Internal("NextWait called on success");
    case AttemptClass::kPermanent:
      return o.status;
    case AttemptClass::kRateLimited:
      if (stats->rate_limited > policy_.max_rate_limited) {
        return Status::ResourceExhausted(Str("rate limited ", stats->rate_limited, " times"));
      }
      *wait_ms = o.retry_after_ms.value_or(policy_.default_retry_after_ms);
      return Status::OK();
    case AttemptClass::kMalformed:
      if (++*malformed >= 2) {
        return Status::InvalidArgument("provider sent a malformed response twice: " +
                                       o.status.message());
      }
      [[fallthrough]];
    case AttemptClass::kTransient:
      if (++*failures >= policy_.max_attempts) {
        return o.status.WithContext(Str("gave up after ", *failures, " failed attempts"));
      }
      *wait_ms = std::max(BackoffMs(policy_, *failures, rng_), o.retry_after_ms.value_or(0));
      return Status::OK();
  }
  return Status::Internal("unknown attempt class");
}

Status Retrier::Run(const std::function<AttemptOutcome(int64_t remaining_ms)>& attempt,
                    RetryStats* stats) {
  const SteadyTime deadline = clock_->Now() + Millis(policy_.deadline_ms);
  int failures = 0;
  int malformed = 0;
  AttemptOutcome previous;
  Status last = Status::DeadlineExceeded("call deadline passed before the first attempt");
  while (true) {
    const int64_t remaining = std::chrono::duration_cast<Millis>(deadline - clock_->Now()).count();
    if (remaining <= 0) return last.WithContext("call deadline exceeded");
    AttemptOutcome o = attempt(remaining);
    ++stats->attempts;
    stats->http_status = o.http_status;
    if (o.cls == AttemptClass::kRateLimited) ++stats->rate_limited;
    if (o.cls == AttemptClass::kOk) return Status::OK();
    if (IsRepeatedServerError(previous, o)) {
      return Status::InvalidArgument(
          o.status.message() +
          Str(" (the same HTTP ", o.http_status, " error twice in a row: treated as permanent)"));
    }
    int64_t wait_ms = 0;
    CS_RETURN_IF_ERROR(NextWait(o, &failures, &malformed, stats, &wait_ms));
    previous = o;
    last = o.status;
    const int64_t left = std::chrono::duration_cast<Millis>(deadline - clock_->Now()).count();
    if (wait_ms >= left) {
      if (o.cls == AttemptClass::kRateLimited) {
        return Status::ResourceExhausted("rate limited; retry-after reaches past the deadline");
      }
      return Status::DeadlineExceeded("no time left to retry: " + o.status.message());
    }
    sleep_(Millis(wait_ms));
    if (before_retry_) CS_RETURN_IF_ERROR(before_retry_(o));
  }
}

}  // namespace codesweep
