// TokenBucket arithmetic and the AIMD controller, driven by explicit times (no clock, no sleeps).
#include <gtest/gtest.h>

#include "coordinator/ratelimit/bucket.h"

namespace codesweep {
namespace {

TEST(TokenBucketTest, UnlimitedByDefault) {
  TokenBucket b;
  EXPECT_TRUE(b.unlimited());
  EXPECT_TRUE(b.Fits(1e12));
  EXPECT_EQ(b.MsUntilFits(1e12), 0);
}

TEST(TokenBucketTest, StartsFullWithOneBurstAndRefillsContinuously) {
  TokenBucket b;
  b.Configure(600, 0, 60'000, 0);  // 10/s, capacity 600
  EXPECT_DOUBLE_EQ(b.capacity(), 600);
  EXPECT_DOUBLE_EQ(b.level(), 600);
  b.Take(600);
  EXPECT_FALSE(b.Fits(1));
  EXPECT_EQ(b.MsUntilFits(1), 100);
  b.Refill(50);
  EXPECT_NEAR(b.level(), 0.5, 1e-9);
  EXPECT_FALSE(b.Fits(1));
  b.Refill(100);
  EXPECT_TRUE(b.Fits(1));
  b.Refill(10'000'000);
  EXPECT_DOUBLE_EQ(b.level(), 600);  // never above capacity
}

TEST(TokenBucketTest, ReserveAndBurstShrinkCapacityAndRate) {
  TokenBucket b;
  b.Configure(6000, 0.25, 1'000, 0);  // 4500/min kept, 1 s of burst
  EXPECT_DOUBLE_EQ(b.per_minute(), 4500);
  EXPECT_DOUBLE_EQ(b.capacity(), 75);
}

TEST(TokenBucketTest, DebtFromUnderestimateIsPaidByRefill) {
  TokenBucket b;
  b.Configure(60'000, 0, 60'000, 0);  // 1 token/ms
  b.Take(60'000 + 500);               // an estimate that turned out 500 short
  EXPECT_DOUBLE_EQ(b.level(), -500);
  EXPECT_EQ(b.MsUntilFits(100), 600);
  b.Give(100);  // a refund
  EXPECT_DOUBLE_EQ(b.level(), -400);
}

TEST(TokenBucketTest, CallLargerThanCapacityFitsWhenFull) {
  TokenBucket b;
  b.Configure(60, 0, 1'000, 0);  // capacity 1
  EXPECT_TRUE(b.Fits(50));
  b.Take(50);
  EXPECT_FALSE(b.Fits(50));
}

TEST(TokenBucketTest, ReconfigureKeepsLevelClamped) {
  TokenBucket b;
  b.Configure(600, 0, 60'000, 0);
  b.Take(100);
  b.Configure(300, 0, 60'000, 0);  // provider halved the limit
  EXPECT_DOUBLE_EQ(b.capacity(), 300);
  EXPECT_DOUBLE_EQ(b.level(), 300);
  b.Clamp(20);
  EXPECT_DOUBLE_EQ(b.level(), 20);
  b.Configure(0, 0, 60'000, 0);
  EXPECT_TRUE(b.unlimited());
}

TEST(AimdTest, UncappedUntilFirst429ThenHalvesFromInFlight) {
  AimdController a;
  EXPECT_EQ(a.cap(), 0);
  EXPECT_TRUE(a.Allows(10'000, 0));
  a.OnRateLimited(40, -1, 0, 1'000);
  EXPECT_EQ(a.cap(), 20);
  EXPECT_FALSE(a.Allows(0, 1'500));  // default cooldown 1 s
  EXPECT_TRUE(a.Allows(19, 2'000));
  EXPECT_FALSE(a.Allows(20, 2'000));
}

TEST(AimdTest, AdditiveIncreaseOnlyWhileTheCapBinds) {
  AimdController a;
  a.OnRateLimited(8, 0, 0, 0);
  ASSERT_EQ(a.cap(), 4);
  a.OnSuccess(1, 10);  // far below the cap: no growth
  EXPECT_EQ(a.cap(), 4);
  a.OnSuccess(4, 10);
  EXPECT_EQ(a.cap(), 5);
  a.OnSuccess(5, 10);
  EXPECT_EQ(a.cap(), 6);
}

TEST(AimdTest, OneDecreasePerEpisodeAndRetryAfterHonoured) {
  AimdController a;
  a.OnRateLimited(16, 2'500, 0, 1'000);
  EXPECT_EQ(a.cap(), 8);
  EXPECT_EQ(a.cooldown_until_ms(), 3'500);
  a.OnRateLimited(15, 100, 900, 1'010);  // granted before the decrease: same episode
  EXPECT_EQ(a.cap(), 8);
  EXPECT_EQ(a.cooldown_until_ms(), 3'500);  // never shortened
  a.OnRateLimited(8, 100, 4'000, 4'100);    // a new episode
  EXPECT_EQ(a.cap(), 4);
  EXPECT_EQ(a.decreases(), 2);
  for (int i = 0; i < 10; ++i) a.OnRateLimited(1, 0, 5'000 + i, 5'000 + i);
  EXPECT_EQ(a.cap(), 1);  // never below one
}

TEST(AimdTest, MaxConcurrencyIsACeiling) {
  AimdOptions o;
  o.max_cap = 3;
  AimdController a(o);
  EXPECT_EQ(a.cap(), 3);
  EXPECT_FALSE(a.Allows(3, 0));
  a.OnRateLimited(3, 0, 0, 0);
  EXPECT_EQ(a.cap(), 1);
  for (int i = 0; i < 10; ++i) a.OnSuccess(a.cap(), 1);
  EXPECT_EQ(a.cap(), 3);
}

}  // namespace
}  // namespace codesweep
