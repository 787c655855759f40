// How the provider client classifies failed attempts (docs/llm.md, "The retry layer"): an
// identical 5xx error body twice in a row is permanent, an empty 200 body is transient, and a
// failed call's counters are its real ones. A scripted HttpEngine stands in for the server.
#include <gtest/gtest.h>

#include <deque>
#include <mutex>

#include "jobs/llm/http.h"
#include "jobs/llm/providers.h"
#include "jobs/llm/retry.h"

namespace codesweep {
namespace {

// Answers each Send with the next scripted response (a 200 "OK" reply once the script is spent)
// and counts the requests.
class ScriptedEngine final : public HttpEngine {
 public:
  explicit ScriptedEngine(std::deque<HttpResponse> script) : script_(std::move(script)) {}
  Result<HttpResponse> Send(HttpRequest) override {
    std::lock_guard<std::mutex> lock(mu_);
    ++sent_;
    if (script_.empty()) return HttpResponse{200, {}, kOkBody};
    HttpResponse r = script_.front();
    script_.pop_front();
    return r;
  }
  void SendAsync(HttpRequest request, Callback done) override { done(Send(std::move(request))); }
  int64_t in_flight() const override { return 0; }
  int sent() const { return sent_; }

  static constexpr const char* kOkBody =
      R"({"choices":[{"message":{"role":"assistant","content":"OK"},"finish_reason":"stop"}],)"
      R"("usage":{"prompt_tokens":5,"completion_tokens":1}})";

 private:
  std::mutex mu_;
  std::deque<HttpResponse> script_;
  int sent_ = 0;
};

HttpResponse Error(int status, const std::string& message) {
  return {status, {}, R"({"error":{"message":")" + message + R"(","type":"server_error"}})"};
}

struct Client {
  explicit Client(std::deque<HttpResponse> script)
      : engine(std::make_shared<ScriptedEngine>(std::move(script))) {
    ProviderEnv env;
    env.http = engine;
    env.clock = &clock;
    env.sleep = [this](Millis d) { clock.Advance(d); };
    ModelSpec model{
        "openai:m", "openai", "m",
        R"({"base_url":"http://127.0.0.1:1/v1","api_key_env":"","price":{"input":0,"output":0}})"};
    client = std::move(MakeProviderClient(model, env)).value();
  }
  Result<LlmResponse> Call() {
    LlmRequest r;
    r.messages.push_back(ChatMessage{.role = "user", .content = "hi"});
    return client->Complete(r);
  }
  FakeClock clock;
  std::shared_ptr<ScriptedEngine> engine;
  std::unique_ptr<LlmClient> client;
};

TEST(ErrorClass, IdenticalServerErrorTwiceIsPermanent) {
  Client c({Error(500, "tools param requires --jinja flag"),
            Error(500, "tools param requires --jinja flag")});
  Result<LlmResponse> r = c.Call();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);  // a failed cell, not a retry
  EXPECT_NE(r.status().message().find("--jinja"), std::string::npos);
  EXPECT_EQ(c.engine->sent(), 2);
  LlmCallStats stats = c.client->last_call_stats();
  EXPECT_EQ(stats.attempts, 2);
  EXPECT_EQ(stats.http_status, 500);
}

TEST(ErrorClass, DifferentServerErrorsAreRetried) {
  Client c({Error(500, "overloaded (request 1)"), Error(500, "overloaded (request 2)")});
  ASSERT_TRUE(c.Call().ok());
  EXPECT_EQ(c.engine->sent(), 3);
}

TEST(ErrorClass, IdenticalGatewayErrorsStayTransient) {
  Client c({Error(503, "busy"), Error(503, "busy"), Error(502, "bad gateway"),
            Error(502, "bad gateway")});
  ASSERT_TRUE(c.Call().ok());
  EXPECT_EQ(c.engine->sent(), 5);
}

TEST(ErrorClass, EmptyOkBodyIsTransientNotMalformed) {
  // Two empty bodies used to end the call as "malformed twice" (a permanent failure).
  Client c({HttpResponse{200, {}, ""}, HttpResponse{200, {}, " \n"}});
  Result<LlmResponse> r = c.Call();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->content, "OK");
  EXPECT_EQ(r->attempts, 3);
}

TEST(ErrorClass, EmptyOkBodiesExhaustAsRetryable) {
  std::deque<HttpResponse> empties(10, HttpResponse{200, {}, ""});
  Client c(empties);
  Result<LlmResponse> r = c.Call();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);  // a new lease may succeed
  EXPECT_NE(r.status().message().find("empty response body"), std::string::npos);
  EXPECT_EQ(c.client->last_call_stats().attempts, 5);
}

TEST(ErrorClass, RepeatedServerErrorNeedsSameStatusAndBody) {
  AttemptOutcome a{AttemptClass::kTransient, Status::Unavailable("x"), 500, {}, "body"};
  AttemptOutcome b = a;
  EXPECT_TRUE(IsRepeatedServerError(a, b));
  b.http_status = 501;
  EXPECT_FALSE(IsRepeatedServerError(a, b));
  b = a;
  b.error_body = "other";
  EXPECT_FALSE(IsRepeatedServerError(a, b));
  b.error_body = "";
  a.error_body = "";
  EXPECT_FALSE(IsRepeatedServerError(a, b));  // no body to compare (gateways, resets)
  AttemptOutcome ok;
  EXPECT_FALSE(IsRepeatedServerError(ok, a));
}

}  // namespace
}  // namespace codesweep
