#include "coordinator/circuit_breaker.h"

namespace codesweep {

bool CircuitBreaker::OnResult(int64_t variant, const std::string& model, const Outcome& outcome) {
  if (!outcome.failed) {
    for (auto& [key, b] : breakers_) {
      if (key.first != model || b.variants.erase(variant) == 0) continue;
      if (b.variants.empty()) b.failures = 0;
    }
    return false;
  }
  if (outcome.retryable || outcome.error.empty()) return false;
  Breaker& b = breakers_[{model, outcome.error}];
  ++b.failures;
  b.variants.insert(variant);
  if (b.tripped || b.failures < trip_after_) return false;
  b.tripped = true;
  return true;
}

std::optional<std::string> CircuitBreaker::Check(int64_t variant) const {
  for (const auto& [key, b] : breakers_) {
    if (!b.tripped || !b.variants.contains(variant)) continue;
    return "not sent: " + std::to_string(b.failures) + " cells of " + key.first +
           " failed with the same error (circuit breaker): " + key.second;
  }
  return std::nullopt;
}

}  // namespace codesweep
