// CircuitBreaker: a (model, error) breaker trips after three permanent failures and then covers
// the variants that failed with it; verdicts and transient failures do not count.
#include "coordinator/circuit_breaker.h"

#include <gtest/gtest.h>

namespace codesweep {
namespace {

Outcome Failed(const std::string& error, bool retryable = false) {
  Outcome o;
  o.failed = true;
  o.retryable = retryable;
  o.error = error;
  return o;
}

TEST(CircuitBreaker, TripsAfterThreeSamePermanentErrors) {
  CircuitBreaker b;
  EXPECT_FALSE(b.OnResult(1, "openai:x", Failed("HTTP 500: tools param requires --jinja flag")));
  EXPECT_FALSE(b.OnResult(1, "openai:x", Failed("HTTP 500: tools param requires --jinja flag")));
  EXPECT_FALSE(b.Check(1).has_value());
  EXPECT_TRUE(b.OnResult(1, "openai:x", Failed("HTTP 500: tools param requires --jinja flag")));
  std::optional<std::string> why = b.Check(1);
  ASSERT_TRUE(why.has_value());
  EXPECT_NE(why->find("--jinja"), std::string::npos);
  EXPECT_NE(why->find("openai:x"), std::string::npos);
  EXPECT_FALSE(b.Check(2).has_value());  // a variant (method) that never failed with it runs
  b.OnResult(2, "openai:x", Failed("HTTP 500: tools param requires --jinja flag"));
  EXPECT_TRUE(b.Check(2).has_value());  // ... until it does
}

TEST(CircuitBreaker, TransientAndDifferentErrorsDoNotTrip) {
  CircuitBreaker b;
  for (int i = 0; i < 5; ++i) b.OnResult(1, "m", Failed("HTTP 503 busy", /*retryable=*/true));
  b.OnResult(1, "m", Failed("error a"));
  b.OnResult(1, "m", Failed("error b"));
  b.OnResult(1, "other", Failed("error a"));
  b.OnResult(1, "m", Failed("error c"));
  EXPECT_FALSE(b.Check(1).has_value());
}

TEST(CircuitBreaker, AVerdictResetsTheCount) {
  CircuitBreaker b;
  b.OnResult(1, "m", Failed("e"));
  b.OnResult(1, "m", Failed("e"));
  b.OnResult(1, "m", Outcome{});  // the error was not deterministic for this variant
  b.OnResult(1, "m", Failed("e"));
  EXPECT_FALSE(b.Check(1).has_value());
}

}  // namespace
}  // namespace codesweep
