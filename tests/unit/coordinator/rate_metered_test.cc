// The worker side of CALL/GRANT (worker/job_runner): a 429 ends the HTTP attempt, is reported in
// CALL_RESULT with the provider's rate-limit headers, and the call asks for a new GRANT; a
// transient failure retried inside the client is reported and granted again first; a cached
// GRANT is replayed without calling the provider. Fake inner client and gate; no network.
#include <gtest/gtest.h>

#include <deque>
#include <thread>

#include "worker/job_runner.h"

namespace codesweep {
namespace {

// Answers from a script: each entry is an HTTP status (200 = ok, 429 = rate limited, 503 =
// transient: retried inside the client, as the Retrier does, after CallObserver::BeforeRetry).
// With `hop`, each call runs on a thread of its own, as an asynchronous client's would: what
// the observer hears must not depend on the thread.
class ScriptedClient final : public LlmClient {
 public:
  explicit ScriptedClient(std::deque<int> script, bool hop = false)
      : script_(std::move(script)), hop_(hop) {}
  Result<LlmResponse> Complete(const LlmRequest&) override {
    ADD_FAILURE() << "a metered client passes its observer with the call";
    return Status::Internal("no observer");
  }
  Result<LlmResponse> Complete(const LlmRequest&, CallObserver& observer) override {
    ++calls;
    if (!hop_) return Run(observer);
    Result<LlmResponse> out = Status::Internal("unset");
    std::thread t([&] { out = Run(observer); });
    t.join();
    return out;
  }
  LlmCapabilities capabilities() const override { return {}; }
  LlmCallStats last_call_stats() const override { return stats_; }
  int calls = 0;

 private:
  Result<LlmResponse> Run(CallObserver& observer) {
    int status = Next();
    int attempts = 1;
    while (status == 503) {
      AttemptOutcome failed{AttemptClass::kTransient, Status::Unavailable("503"), 503, {}};
      if (Status s = observer.BeforeRetry(failed); !s.ok()) {
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
    observer.OnRateInfo(info);  // as the HTTP provider client does after each attempt
    if (status == 429) return Status::ResourceExhausted("429");
    LlmResponse r;
    r.content = "answer";
    r.usage.input_tokens = 11;
    r.usage.output_tokens = 3;
    r.http_status = 200;
    return r;
  }
  int Next() {
    int status = script_.empty() ? 200 : script_.front();
    if (!script_.empty()) script_.pop_front();
    return status;
  }
  std::deque<int> script_;
  bool hop_;
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
  RecordingGate gate;
  auto inner = std::make_unique<ScriptedClient>(std::deque<int>{429, 429, 200});
  ScriptedClient* raw = inner.get();
  auto client = MakeMeteredClient(std::move(inner), Model(), gate);
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
  RecordingGate gate;
  LlmResponse stored;
  stored.content = "from the cache";
  stored.cost_usd = 1.5;
  gate.cached_json = ResponseToJson(stored);
  auto inner = std::make_unique<ScriptedClient>(std::deque<int>{});
  ScriptedClient* raw = inner.get();
  auto client = MakeMeteredClient(std::move(inner), Model(), gate);
  Result<LlmResponse> r = client->Complete(Request());
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(raw->calls, 0);
  EXPECT_TRUE(r->cached);
  EXPECT_EQ(r->content, "from the cache");
  EXPECT_EQ(r->cost_usd, 0);
  EXPECT_TRUE(gate.reports.empty());
}

TEST(MeteredClientTest, TransientRetriesAreReportedAndGrantedAgain) {
  RecordingGate gate;
  auto inner = std::make_unique<ScriptedClient>(std::deque<int>{503, 503, 200});
  ScriptedClient* raw = inner.get();
  auto client = MakeMeteredClient(std::move(inner), Model(), gate);
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
}

TEST(MeteredClientTest, ACachedGrantWhileRetryingEndsTheRetries) {
  RecordingGate gate;
  LlmResponse stored;
  stored.content = "shared answer";
  gate.cached_json = ResponseToJson(stored);
  gate.uncached_grants = 1;  // the first CALL is granted, the re-grant finds the cached answer
  auto inner = std::make_unique<ScriptedClient>(std::deque<int>{503, 200});
  auto client = MakeMeteredClient(std::move(inner), Model(), gate);
  Result<LlmResponse> r = client->Complete(Request());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r->cached);
  EXPECT_EQ(r->content, "shared answer");
  EXPECT_EQ(gate.calls.size(), 2u);
  ASSERT_EQ(gate.reports.size(), 1u);  // only the failed attempt; no grant is held after it
  EXPECT_EQ(gate.reports[0].http_status, 503);
}

// Regression (issue 14): rate-limit state and retry hooks were relayed through a map keyed by
// the slot's thread id, so a call whose attempts ran on another thread lost both: no headers in
// CALL_RESULT and retries that were never granted.
TEST(MeteredClientTest, ACallRunOnAnotherThreadStillReportsAndRegrants) {
  RecordingGate gate;
  auto inner = std::make_unique<ScriptedClient>(std::deque<int>{503, 429, 200}, /*hop=*/true);
  auto client = MakeMeteredClient(std::move(inner), Model(), gate);
  Result<LlmResponse> r = client->Complete(Request());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(gate.calls.size(), 3u);  // the retry after the 503 and the call after the 429
  ASSERT_EQ(gate.reports.size(), 3u);
  EXPECT_EQ(gate.reports[0].http_status, 503);
  EXPECT_EQ(gate.reports[1].http_status, 429);
  EXPECT_EQ(ParseRateLimitHeaders(gate.reports[1].headers, 0).retry_after_ms, 250);
  EXPECT_TRUE(gate.reports[2].ok);
  EXPECT_EQ(ParseRateLimitHeaders(gate.reports[2].headers, 0).remaining_requests, 7);
}

TEST(MeteredClientTest, KeyAliasPrefersTheExplicitOption) {
  EXPECT_EQ(KeyAliasOf({"openai:m", "openai", "m", R"({"key_alias":"A","api_key_env":"B"})"}), "A");
  EXPECT_EQ(KeyAliasOf({"openai:m", "openai", "m", "{}"}), "OPENAI_API_KEY");
  EXPECT_EQ(KeyAliasOf({"anthropic:m", "anthropic", "m", "{}"}), "ANTHROPIC_API_KEY");
}

}  // namespace
}  // namespace codesweep
