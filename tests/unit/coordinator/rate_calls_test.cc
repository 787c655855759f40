// CoordinatorCore's CALL/GRANT with the ClusterRateLimiter: FIFO per bucket, round-robin across
// buckets, calls shared while in flight, --no-cache, lost workers, sweep limits and the
// rate_limits snapshot. FakeClock and a temporary Store; no sleeps.
#include <gtest/gtest.h>

#include <filesystem>

#include "coordinator/coordinator_core.h"
#include "coordinator/ratelimit/cluster_limiter.h"

namespace codesweep {
namespace {

class RateCallsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("cs_ratecalls_" + std::to_string(::getpid()) + "_" + std::to_string(counter_++));
    std::filesystem::create_directories(dir_);
    Result<std::unique_ptr<Store>> s = Store::Open((dir_ / "db").string(), {});
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(*s);
    // A sweep whose config limits openai:slow to 60 rpm (burst 1 s = one call at a time).
    std::string config =
        R"({"models":[{"id":"openai:slow","key_alias":"K","limits":{"rpm":60,"tpm":0,)"
        R"("input_tpm":0,"output_tpm":0,"max_concurrency":0,"reserve":0},"options":{}}]})";
    ASSERT_TRUE(store_->UpsertSweep({"t", 1, 3, "t.toml", "", config}).ok());
    rate_.burst_ms = 1'000;
  }
  void TearDown() override {
    core_.reset();
    limiter_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  void Start(bool use_cache = true) {
    limiter_ = std::make_unique<ClusterRateLimiter>(rate_);
    CoordinatorOptions o;
    o.use_cache = use_cache;
    core_ = std::make_unique<CoordinatorCore>(*store_, clock_, Logger::Null(), *limiter_, o);
    ASSERT_TRUE(core_->Start().ok());
    for (const char* peer : {"w1", "w2"}) {
      HelloMsg h;
      h.worker_id = peer;
      h.slots = 8;
      core_->OnMessage(peer, h);
    }
    (void)core_->TakeOutbox();
  }
  static CallMsg Call(const std::string& key, const std::string& model = "slow") {
    return CallMsg{1, 1, key, "openai", model, "K", 10};
  }
  static CallResultMsg Reply(const CallMsg& c, bool ok, int http = 200) {
    CallResultMsg r;
    r.call_key = c.call_key;
    r.provider = c.provider;
    r.model = c.model;
    r.key_alias = c.key_alias;
    r.ok = ok;
    r.http_status = http;
    r.rate_limited = http == 429 ? 1 : 0;
    r.response_json = ok ? R"({"content":")" + c.call_key + R"("})" : "";
    r.tokens_in = r.tokens_out = 1;
    return r;
  }
  // GRANTs sent since the last call, as "peer:key[:cached]".
  std::vector<std::string> Grants() {
    std::vector<std::string> out;
    for (const Outgoing& o : core_->TakeOutbox()) {
      if (auto* g = std::get_if<GrantMsg>(&o.msg)) {
        out.push_back(o.peer + ":" + g->call_key + (g->cached ? ":cached" : ""));
      }
    }
    return out;
  }
  void Advance(int ms) {
    clock_.Advance(Millis(ms));
    core_->Tick();
  }

  static inline int counter_ = 0;
  std::filesystem::path dir_;
  FakeClock clock_;
  RateLimiterOptions rate_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<ClusterRateLimiter> limiter_;
  std::unique_ptr<CoordinatorCore> core_;
};

using Strings = std::vector<std::string>;

TEST_F(RateCallsTest, SweepLimitsQueueCallsFifoAndGrantOnRefill) {
  Start();
  core_->OnMessage("w1", Call("a"));
  core_->OnMessage("w2", Call("b"));
  core_->OnMessage("w1", Call("c"));
  EXPECT_EQ(Grants(), Strings({"w1:a"}));  // 60 rpm, burst of one
  EXPECT_GT(core_->NextWakeMs(), 0);
  Advance(500);
  EXPECT_TRUE(Grants().empty());
  Advance(500);
  EXPECT_EQ(Grants(), Strings({"w2:b"}));  // first come, first served
  Advance(1'000);
  EXPECT_EQ(Grants(), Strings({"w1:c"}));
}

TEST_F(RateCallsTest, RoundRobinAcrossBucketsNobodyStarves) {
  RateLimitConfig one;
  one.max_concurrency = 1;
  Start();
  limiter_->Configure({"openai", "m1", "K"}, one);
  limiter_->Configure({"openai", "m2", "K"}, one);
  for (int i = 0; i < 5; ++i) core_->OnMessage("w1", Call("x" + std::to_string(i), "m1"));
  core_->OnMessage("w2", Call("y0", "m2"));
  core_->OnMessage("w2", Call("y1", "m2"));
  EXPECT_EQ(Grants(), Strings({"w1:x0", "w2:y0"}));
  core_->OnMessage("w1", Reply(Call("x0", "m1"), true));
  core_->OnMessage("w2", Reply(Call("y0", "m2"), true));
  Advance(1);
  EXPECT_EQ(Grants(), Strings({"w1:x1", "w2:y1"}));
}

TEST_F(RateCallsTest, IdenticalCallsInFlightShareOneProviderCall) {
  Start();
  core_->OnMessage("w1", Call("same", "free"));
  core_->OnMessage("w2", Call("same", "free"));
  EXPECT_EQ(Grants(), Strings({"w1:same"}));  // w2 waits for w1's answer
  core_->OnMessage("w1", Reply(Call("same", "free"), true));
  EXPECT_EQ(Grants(), Strings({"w2:same:cached"}));
  core_->OnMessage("w2", Call("same", "free"));  // and later ones come from the cache
  EXPECT_EQ(Grants(), Strings({"w2:same:cached"}));
}

TEST_F(RateCallsTest, FailedCallIsNeverCachedAndItsFollowerGoesItself) {
  Start();
  core_->OnMessage("w1", Call("k", "free"));
  core_->OnMessage("w2", Call("k", "free"));
  EXPECT_EQ(Grants(), Strings({"w1:k"}));
  core_->OnMessage("w1", Reply(Call("k", "free"), false, 500));
  EXPECT_EQ(Grants(), Strings({"w2:k"}));
  EXPECT_EQ(*store_->CountCalls(), 0);
}

TEST_F(RateCallsTest, NoCacheSendsEveryCall) {
  Start(/*use_cache=*/false);
  core_->OnMessage("w1", Call("k", "free"));
  EXPECT_EQ(Grants(), Strings({"w1:k"}));
  core_->OnMessage("w1", Reply(Call("k", "free"), true));
  core_->OnMessage("w2", Call("k", "free"));
  EXPECT_EQ(Grants(), Strings({"w2:k"}));  // a fresh call, not the stored answer
}

TEST_F(RateCallsTest, RegrantToTheSameWorkerAfterAReconnect) {
  Start();
  core_->OnMessage("w1", Call("k", "free"));
  core_->OnMessage("w1", Call("k", "free"));
  EXPECT_EQ(Grants(), Strings({"w1:k", "w1:k"}));
}

TEST_F(RateCallsTest, TwoSlotsOfOneWorkerShareTheCallToo) {
  Start();
  CallMsg second = Call("k", "free");
  second.job = 2;
  core_->OnMessage("w1", Call("k", "free"));
  core_->OnMessage("w1", second);
  EXPECT_EQ(Grants(), Strings({"w1:k"}));  // job 2 waits: one provider call for both
  core_->OnMessage("w1", Reply(Call("k", "free"), true));
  EXPECT_EQ(Grants(), Strings({"w1:k:cached"}));
}

TEST_F(RateCallsTest, LostWorkerFreesItsSlotAndDropsItsQueuedCalls) {
  RateLimitConfig one;
  one.max_concurrency = 1;
  Start();
  limiter_->Configure({"openai", "m", "K"}, one);
  core_->OnMessage("w1", Call("a", "m"));
  core_->OnMessage("w1", Call("b", "m"));
  core_->OnMessage("w2", Call("c", "m"));
  EXPECT_EQ(Grants(), Strings({"w1:a"}));
  core_->OnMessage("w1", ByeMsg{});
  Advance(1);
  EXPECT_EQ(Grants(), Strings({"w2:c"}));  // a's slot is free; b left with its worker
}

TEST_F(RateCallsTest, RateLimitedCallWaitsForTheCooldown) {
  Start();
  core_->OnMessage("w1", Call("k", "free"));
  EXPECT_EQ(Grants(), Strings({"w1:k"}));
  CallResultMsg r = Reply(Call("k", "free"), false, 429);
  r.headers = {{"retry-after-ms", "300"}};
  core_->OnMessage("w1", r);
  core_->OnMessage("w1", Call("k", "free"));  // the worker asks again
  EXPECT_TRUE(Grants().empty());
  Advance(200);
  EXPECT_TRUE(Grants().empty());
  Advance(100);
  EXPECT_EQ(Grants(), Strings({"w1:k"}));
}

TEST_F(RateCallsTest, LiveStateGoesToTheRateLimitsTable) {
  Start();
  core_->OnMessage("w1", Call("a"));
  core_->OnMessage("w1", Call("b"));
  Advance(1'000);
  core_->MaybeCommit(true);
  Result<std::vector<RateLimitRow>> rows = store_->RateLimits();
  ASSERT_TRUE(rows.ok()) << rows.status().ToString();
  ASSERT_EQ(rows->size(), 1u);
  const RateLimitRow& r = (*rows)[0];
  EXPECT_EQ(r.model, "slow");
  EXPECT_EQ(r.key_alias, "K");
  EXPECT_NEAR(r.rpm, 60, 1e-6);
  EXPECT_EQ(r.granted, 2);
  EXPECT_EQ(r.in_flight, 2);
}

// The learned token ratio goes to rate_limits with the live state, and the next coordinator on
// the same database starts from it: its first call is charged the learned estimate, not the
// worker's prompt / 4 + max_tokens (which before overcharged the tokens bucket until results
// of the new run came back).
TEST_F(RateCallsTest, NextCoordinatorOnTheDatabaseStartsFromTheLearnedRatio) {
  Start();
  CallMsg first = Call("a");
  first.est_tokens = 2'000;
  core_->OnMessage("w1", first);
  ASSERT_EQ(Grants(), Strings({"w1:a"}));
  CallResultMsg r = Reply(first, true);
  r.tokens_in = 60;
  r.tokens_out = 40;  // 100 of an estimated 2,000
  core_->OnMessage("w1", r);
  Advance(1'000);
  core_->MaybeCommit(true);
  core_.reset();
  Start();  // a new limiter and coordinator core on the same store
  CallMsg next = Call("b");
  next.est_tokens = 2'000;
  EXPECT_EQ(limiter_->EstimateFor(next), 110);  // 2,000 x 0.05 x the 1.1 margin
}

}  // namespace
}  // namespace codesweep
