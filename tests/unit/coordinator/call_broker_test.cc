// CallBroker on its own (no CoordinatorCore, no peers): the call cache, calls shared while in
// flight, a refused call queued then granted on the clock, a lost peer's calls dropped, and the
// rate_limits snapshot. FakeClock, a temporary Store and the real ClusterRateLimiter; no sleeps.
#include "coordinator/ratelimit/call_broker.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <memory>

#include "coordinator/ratelimit/cluster_limiter.h"

namespace codesweep {
namespace {

using Strings = std::vector<std::string>;

class CallBrokerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("cs_callbroker_" + std::to_string(::getpid()) + "_" + std::to_string(counter_++));
    std::filesystem::create_directories(dir_);
    Result<std::unique_ptr<Store>> s = Store::Open((dir_ / "db").string(), {});
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(*s);
    // openai:slow at 60 rpm with a 1 s burst: one call at a time, the next a second later.
    std::string config =
        R"({"models":[{"id":"openai:slow","key_alias":"K","limits":{"rpm":60},"options":{}}]})";
    ASSERT_TRUE(store_->UpsertSweep({"t", 1, 3, "t.toml", "", config}).ok());
    RateLimiterOptions rate;
    rate.burst_ms = 1'000;
    limiter_ = std::make_unique<ClusterRateLimiter>(rate);
  }
  void TearDown() override {
    broker_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  void Make(bool use_cache = true) {
    broker_ = std::make_unique<CallBroker>(*store_, clock_, *limiter_, use_cache);
    ASSERT_TRUE(broker_->LoadLimits(true).ok());
  }
  static CallMsg Call(const std::string& key, const std::string& model = "slow", int64_t job = 1) {
    return CallMsg{job, 1, key, "openai", model, "K", 10};
  }
  static CallResultMsg Reply(const CallMsg& c, bool ok) {
    CallResultMsg r;
    r.call_key = c.call_key;
    r.provider = c.provider;
    r.model = c.model;
    r.key_alias = c.key_alias;
    r.ok = ok;
    r.http_status = ok ? 200 : 500;
    r.response_json = ok ? R"({"content":")" + c.call_key + R"("})" : "";
    r.tokens_in = r.tokens_out = 1;
    return r;
  }
  void Ask(const std::string& peer, const CallMsg& c) {
    ASSERT_TRUE(broker_->OnCall(peer, c).ok());
  }
  void Answer(const CallResultMsg& r) { ASSERT_TRUE(broker_->OnCallResult(r).ok()); }
  // GRANTs in the outbox since the last look, as "peer:key[:cached]".
  Strings Grants() {
    Strings out;
    for (const Outgoing& o : broker_->TakeOutbox()) {
      const GrantMsg& g = std::get<GrantMsg>(o.msg);
      out.push_back(o.peer + ":" + g.call_key + (g.cached ? ":cached" : ""));
    }
    return out;
  }
  void Advance(int ms) {
    clock_.Advance(Millis(ms));
    ASSERT_TRUE(broker_->GrantWaiting().ok());
  }

  static inline int counter_ = 0;
  std::filesystem::path dir_;
  FakeClock clock_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<ClusterRateLimiter> limiter_;
  std::unique_ptr<CallBroker> broker_;
};

TEST_F(CallBrokerTest, StoredResponseIsAGrantFromTheCache) {
  Make();
  ASSERT_TRUE(store_->PutCall({"k", "openai", "slow", R"({"content":"hi"})", 1, 1, 0}).ok());
  Ask("w1", Call("k"));
  std::vector<Outgoing> out = broker_->TakeOutbox();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].peer, "w1");
  const GrantMsg& g = std::get<GrantMsg>(out[0].msg);
  EXPECT_TRUE(g.cached);
  EXPECT_EQ(g.response_json, R"({"content":"hi"})");
  EXPECT_EQ(broker_->TakeWrites(), 0);
}

TEST_F(CallBrokerTest, IdenticalCallInFlightIsSharedAndItsAnswerStored) {
  Make();
  Ask("w1", Call("same", "free"));
  Ask("w2", Call("same", "free", 2));
  EXPECT_EQ(Grants(), Strings({"w1:same"}));  // one provider call for both
  Answer(Reply(Call("same", "free"), true));
  EXPECT_EQ(Grants(), Strings({"w2:same:cached"}));
  EXPECT_EQ(broker_->TakeWrites(), 1);
  EXPECT_EQ(*store_->CountCalls(), 1);
}

TEST_F(CallBrokerTest, RefusedCallQueuesThenIsGrantedWhenTheBucketRefills) {
  Make();
  Ask("w1", Call("a"));
  Ask("w2", Call("b"));
  EXPECT_EQ(Grants(), Strings({"w1:a"}));
  EXPECT_EQ(broker_->queued(), 1);
  EXPECT_GT(broker_->NextWakeMs(500), 0);
  Advance(500);
  EXPECT_TRUE(Grants().empty());
  Advance(500);
  EXPECT_EQ(Grants(), Strings({"w2:b"}));
  EXPECT_EQ(broker_->queued(), 0);
  EXPECT_EQ(broker_->NextWakeMs(500), 500);  // nothing waits: the caller's own timer rules
}

TEST_F(CallBrokerTest, LostPeerDropsItsQueuedCallsAndFreesItsGrantedOnes) {
  RateLimitConfig one;
  one.max_concurrency = 1;
  Make();
  limiter_->Configure({"openai", "m", "K"}, one);
  Ask("w1", Call("a", "m"));
  Ask("w2", Call("a", "m", 2));  // follows w1's call
  Ask("w1", Call("b", "m"));
  Ask("w2", Call("c", "m", 3));
  EXPECT_EQ(Grants(), Strings({"w1:a"}));
  ASSERT_TRUE(broker_->DropPeer("w1").ok());
  // b left with w1. a's slot is free; its follower asks on its own and queues behind c (FIFO).
  EXPECT_TRUE(Grants().empty());
  Advance(1);
  EXPECT_EQ(Grants(), Strings({"w2:c"}));
  Answer(Reply(Call("c", "m", 3), true));
  Advance(1);
  EXPECT_EQ(Grants(), Strings({"w2:a"}));
  EXPECT_EQ(broker_->queued(), 0);
}

TEST_F(CallBrokerTest, SnapshotWritesLiveBucketStateWithItsQueue) {
  Make();
  Ask("w1", Call("a"));
  Ask("w1", Call("b"));
  ASSERT_TRUE(broker_->Snapshot().ok());
  EXPECT_EQ(broker_->TakeWrites(), 1);
  Result<std::vector<RateLimitRow>> rows = store_->RateLimits();
  ASSERT_TRUE(rows.ok()) << rows.status().ToString();
  ASSERT_EQ(rows->size(), 1u);
  const RateLimitRow& r = (*rows)[0];
  EXPECT_EQ(r.model, "slow");
  EXPECT_EQ(r.key_alias, "K");
  EXPECT_NEAR(r.rpm, 60, 1e-6);
  EXPECT_EQ(r.granted, 1);
  EXPECT_EQ(r.queued, 1);
}

}  // namespace
}  // namespace codesweep
