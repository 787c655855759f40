// The worker side of CALL/GRANT (worker/job_runner): a 429 ends the HTTP attempt, is reported in
// CALL_RESULT with the provider's rate-limit headers, and the call asks for a new GRANT; a
// transient failure retried inside the client is reported and granted again first; a cached
// GRANT is replayed without calling the provider. Fake inner client and gate; no network.
#include <gtest/gtest.h>

#include <deque>

#include "worker/job_runner.h"

namespace codesweep {
namespace {

// Answers from a script: each entry is an HTTP status (200 = ok, 429 = rate limited, 503 =
// transient: retried inside the client, as the Retrier does, after ProviderEnv::before_retry).
class ScriptedClient final : public LlmClient {
 public:
  ScriptedClient(std::deque<int> script, RateInfoRelay* relay)
      : script_(std::move(script)), relay_(relay) {}
  Result<LlmResponse> Complete(const LlmRequest&) override {
    ++calls;
    int status = Next();
    int attempts = 1;
    while (status == 503) {
      AttemptOutcome failed{AttemptClass::kTransient, Status::Unavailable("503"), 503, {}};
      if (Status s = relay_->BeforeRetry(failed); !s.ok()) {
        stats_ = {attempts, 0, 503, 5};
        return s;
      }
      ++attempts;
      status = Next();
    }
    stats_ = {attempts, status == 429 ? 1 : 0, status, 5};
    RateLimitInfo info;
    info.remaining_requests = 7;
    if (status == 429) info.retry_after_ms = 250;
    relay_->Publish(info);  // as ProviderEnv::on_rate_info would, on this thread
    if (status == 429) return Status::ResourceExhausted("429");
    LlmResponse r;
    r.content = "answer";
    r.usage.input_tokens = 11;
    r.usage.output_tokens = 3;
    r.http_status = 200;
    return r;
  }
  LlmCapabilities capabilities() const override { return {}; }
  LlmCallStats last_call_stats() const override { return stats_; }
  int calls = 0;

 private:
  int Next() {
    int status = script_.empty() ? 200 : script_.front();
    if (!script_.empty()) script_.pop_front();
    return status;
  }
  std::deque<int> script_;
  RateInfoRelay* relay_;
  LlmCallStats stats_;
};

class RecordingGate final : public CallGate {
 public:
  Result<GrantMsg> Acquire(CallMsg call) override {
    calls.push_back(call);
    const bool cached = !cached_json.empty() && calls.size() > uncached_grants;
    return GrantMsg{call.call_key, cached, cached ? cached_json : ""};
  }
  void Report(CallResultMsg result) override { reports.push_back(std::move(result)); }
  std::vector<CallMsg> calls;
  std::vector<CallResultMsg> reports;
  std::string cached_json;
  size_t uncached_grants = 0;  // the first this many grants are "go" even with cached_json
};

ModelSpec Model() { return ModelSpec{"openai:m", "openai", "m", R"({"api_key_env":"TEAM_KEY"})"}; }

LlmRequest Request() {
  LlmRequest r;
  r.messages.push_back({.role = "user", .content = "0123456789abcdef"});
  r.gen.max_tokens = 100;
  return r;
}

TEST(MeteredClientTest, A429IsReportedAndTheCallAsksAgain) {
  RateInfoRelay relay;
  RecordingGate gate;
  auto inner = std::make_unique<ScriptedClient>(std::deque<int>{429, 429, 200}, &relay);
  ScriptedClient* raw = inner.get();
  auto client = MakeMeteredClient(std::move(inner), Model(), gate, &relay);
  Result<LlmResponse> r = client->Complete(Request());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(raw->calls, 3);
  ASSERT_EQ(gate.calls.size(), 3u);  // every HTTP attempt was granted
  EXPECT_EQ(gate.calls[0].key_alias, "TEAM_KEY");
  EXPECT_EQ(gate.calls[0].est_tokens, 16 / 4 + 100);
  EXPECT_EQ(gate.calls[0].call_key, gate.calls[2].call_key);
  ASSERT_EQ(gate.reports.size(), 3u);
  EXPECT_FALSE(gate.reports[0].ok);
  EXPECT_EQ(gate.reports[0].http_status, 429);
  EXPECT_EQ(ParseRateLimitHeaders(gate.reports[0].headers, 0).retry_after_ms, 250);
  EXPECT_TRUE(gate.reports[2].ok);
  EXPECT_EQ(gate.reports[2].tokens_in, 11);
  EXPECT_EQ(ParseRateLimitHeaders(gate.reports[2].headers, 0).remaining_requests, 7);
  EXPECT_EQ(r->attempts, 3);  // every attempt counted
  EXPECT_EQ(r->rate_limited, 2);
}

TEST(MeteredClientTest, CachedGrantIsReplayedWithoutCallingTheProvider) {
  RateInfoRelay relay;
  RecordingGate gate;
  LlmResponse stored;
  stored.content = "from the cache";
  stored.cost_usd = 1.5;
  gate.cached_json = ResponseToJson(stored);
  auto inner = std::make_unique<ScriptedClient>(std::deque<int>{}, &relay);
  ScriptedClient* raw = inner.get();
  auto client = MakeMeteredClient(std::move(inner), Model(), gate, &relay);
  Result<LlmResponse> r = client->Complete(Request());
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(raw->calls, 0);
  EXPECT_TRUE(r->cached);
  EXPECT_EQ(r->content, "from the cache");
  EXPECT_EQ(r->cost_usd, 0);
  EXPECT_TRUE(gate.reports.empty());
}

TEST(MeteredClientTest, TransientRetriesAreReportedAndGrantedAgain) {
  RateInfoRelay relay;
  RecordingGate gate;
  auto inner = std::make_unique<ScriptedClient>(std::deque<int>{503, 503, 200}, &relay);
  ScriptedClient* raw = inner.get();
  auto client = MakeMeteredClient(std::move(inner), Model(), gate, &relay);
  Result<LlmResponse> r = client->Complete(Request());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(raw->calls, 1);          // the retries ran inside the provider client
  ASSERT_EQ(gate.calls.size(), 3u);  // yet every HTTP attempt was granted
  ASSERT_EQ(gate.reports.size(), 3u);
  EXPECT_FALSE(gate.reports[0].ok);
  EXPECT_EQ(gate.reports[0].http_status, 503);
  EXPECT_FALSE(gate.reports[1].ok);
  EXPECT_TRUE(gate.reports[2].ok);
  EXPECT_EQ(r->attempts, 3);
  EXPECT_EQ(relay.BeforeRetry({}).code(), StatusCode::kOk);  // the hook is gone after the call
}

TEST(MeteredClientTest, ACachedGrantWhileRetryingEndsTheRetries) {
  RateInfoRelay relay;
  RecordingGate gate;
  LlmResponse stored;
  stored.content = "shared answer";
  gate.cached_json = ResponseToJson(stored);
  gate.uncached_grants = 1;  // the first CALL is granted, the re-grant finds the cached answer
  auto inner = std::make_unique<ScriptedClient>(std::deque<int>{503, 200}, &relay);
  auto client = MakeMeteredClient(std::move(inner), Model(), gate, &relay);
  Result<LlmResponse> r = client->Complete(Request());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r->cached);
  EXPECT_EQ(r->content, "shared answer");
  EXPECT_EQ(gate.calls.size(), 2u);
  ASSERT_EQ(gate.reports.size(), 1u);  // only the failed attempt; no grant is held after it
  EXPECT_EQ(gate.reports[0].http_status, 503);
}

TEST(MeteredClientTest, KeyAliasPrefersTheExplicitOption) {
  EXPECT_EQ(KeyAliasOf({"openai:m", "openai", "m", R"({"key_alias":"A","api_key_env":"B"})"}), "A");
  EXPECT_EQ(KeyAliasOf({"openai:m", "openai", "m", "{}"}), "OPENAI_API_KEY");
  EXPECT_EQ(KeyAliasOf({"anthropic:m", "anthropic", "m", "{}"}), "ANTHROPIC_API_KEY");
}

}  // namespace
}  // namespace codesweep
