// Token-bucket refill arithmetic and the AIMD in-flight cap.
#include "coordinator/ratelimit/bucket.h"

#include <algorithm>
#include <cmath>

namespace codesweep {

void TokenBucket::Configure(double per_minute, double reserve, int64_t burst_ms, int64_t now_ms) {
  if (per_minute <= 0) {
    rate_per_ms_ = capacity_ = level_ = 0;
    started_ = false;
    return;
  }
  const double keep = 1.0 - std::clamp(reserve, 0.0, 0.99);
  Refill(now_ms);
  rate_per_ms_ = per_minute * keep / 60'000.0;
  capacity_ = std::max(1.0, rate_per_ms_ * static_cast<double>(std::max<int64_t>(burst_ms, 1)));
  level_ = started_ ? std::min(level_, capacity_) : capacity_;
  last_ms_ = now_ms;
  started_ = true;
}

void TokenBucket::Refill(int64_t now_ms) {
  if (unlimited()) return;
  if (now_ms > last_ms_) {
    level_ = std::min(capacity_, level_ + rate_per_ms_ * static_cast<double>(now_ms - last_ms_));
    last_ms_ = now_ms;
  }
}

bool TokenBucket::Fits(double n) const {
  if (unlimited()) return true;
  return level_ >= std::min(n, capacity_) - 1e-9;
}

void TokenBucket::Give(double n) {
  if (!unlimited()) level_ = std::min(capacity_, level_ + n);
}

void TokenBucket::Clamp(double max_level) {
  if (!unlimited()) level_ = std::min(level_, max_level);
}

int64_t TokenBucket::MsUntilFits(double n) const {
  if (Fits(n)) return 0;
  const double missing = std::min(n, capacity_) - level_;
  return static_cast<int64_t>(std::ceil(missing / rate_per_ms_));
}

int64_t TokenBucket::MsUntilLevel(double n, int64_t now_ms) const {
  if (unlimited()) return 0;
  const double elapsed = static_cast<double>(std::max<int64_t>(now_ms - last_ms_, 0));
  const double level = std::min(capacity_, level_ + rate_per_ms_ * elapsed);
  if (level >= n) return 0;
  return static_cast<int64_t>(std::ceil((n - level) / rate_per_ms_));
}

int AimdController::cap() const {
  if (cap_ == 0) return opt_.max_cap;
  return opt_.max_cap > 0 ? std::min(cap_, opt_.max_cap) : cap_;
}

bool AimdController::Allows(int in_flight, int64_t now_ms) const {
  if (now_ms < cooldown_until_ms_) return false;
  const int c = cap();
  return c == 0 || in_flight < c;
}

void AimdController::OnSuccess(int in_flight_before, int64_t now_ms) {
  if (cap_ == 0 || now_ms < cooldown_until_ms_) return;
  // Grow only while the cap is what binds (not while draining down to a just-lowered cap).
  if (in_flight_before + 1 >= cap_ && in_flight_before <= cap_) ++cap_;
  if (opt_.max_cap > 0) cap_ = std::min(cap_, opt_.max_cap);
}

void AimdController::Pause(int64_t retry_after_ms, int64_t now_ms) {
  const int64_t pause = std::min(retry_after_ms >= 0 ? retry_after_ms : opt_.default_cooldown_ms,
                                 opt_.max_cooldown_ms);
  cooldown_until_ms_ = std::max(cooldown_until_ms_, now_ms + pause);
}

void AimdController::OnRateLimited(int in_flight_before, int64_t retry_after_ms, int64_t granted_ms,
                                   int64_t now_ms) {
  Pause(retry_after_ms, now_ms);
  if (granted_ms < last_decrease_ms_) return;  // same episode: already decreased
  const int base = cap_ > 0 ? cap_ : std::max(in_flight_before, 1);
  cap_ = std::max(1, static_cast<int>(std::floor(base * opt_.decrease)));
  last_decrease_ms_ = now_ms;
  ++decreases_;
}

}  // namespace codesweep
