// The OpenAI and Anthropic clients against a fakellm child process: success, tool calls via
// replay, 429 handling, transient and permanent errors, truncated JSON, drops, oversize bodies,
// timeouts, live reconfiguration and clean shutdown.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "jobs/llm/http.h"
#include "jobs/llm/providers.h"

namespace codesweep {
namespace {

using nlohmann::json;
using Clock_ = std::chrono::steady_clock;

// A fakellm child process in its own process group.
class FakeLlm {
 public:
  explicit FakeLlm(std::vector<std::string> args) {
    int out[2];
    if (pipe(out) != 0) return;
    pid_ = fork();
    if (pid_ == 0) {
      setpgid(0, 0);
      dup2(out[1], 1);
      close(out[0]);
      std::vector<char*> argv;
      std::string bin = std::string(CODESWEEP_BINARY_DIR) + "/fakellm";
      argv.push_back(bin.data());
      for (std::string& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(bin.c_str(), argv.data());
      _exit(127);
    }
    setpgid(pid_, pid_);
    close(out[1]);
    std::string line;
    const auto deadline = Clock_::now() + std::chrono::seconds(20);
    while (line.find('\n') == std::string::npos && Clock_::now() < deadline) {
      pollfd p{out[0], POLLIN, 0};
      if (poll(&p, 1, 100) <= 0) continue;
      char buf[64];
      ssize_t n = read(out[0], buf, sizeof(buf));
      if (n <= 0) break;
      line.append(buf, static_cast<size_t>(n));
    }
    close(out[0]);
    port_ = std::atoi(line.c_str());
  }

  ~FakeLlm() {
    if (pid_ > 0) Terminate();
  }

  // SIGTERM, then the exit status within 10 s (or SIGKILL and -1).
  int Terminate() {
    kill(-pid_, SIGTERM);
    const auto deadline = Clock_::now() + std::chrono::seconds(10);
    int status = 0;
    while (Clock_::now() < deadline) {
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : -2;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    kill(-pid_, SIGKILL);
    waitpid(pid_, &status, 0);
    pid_ = -1;
    return -1;
  }

  int port() const { return port_; }

 private:
  pid_t pid_ = -1;
  int port_ = 0;
};

class LlmAgainstFakeLlm : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    server_ = new FakeLlm({"--port", "0", "--threads", "2", "--seed", "7"});
    engine_ = new std::shared_ptr<HttpEngine>(*MakeHttpEngine());
  }
  static void TearDownTestSuite() {
    delete server_;
    delete engine_;
  }
  void SetUp() override {
    ASSERT_GT(server_->port(), 0) << "fakellm did not start";
    Admin("/admin/config", R"({"rpm":0,"tpm":0,"burst_s":60,"p_500":0,"p_502":0,"p_503":0,
      "p_drop":0,"p_truncate":0,"p_slow":0,"p_oversize":0,"p_empty":0,"context_tokens":0,
      "latency_ms":0,"latency_jitter_ms":0,"latency_dist":"uniform","latency_key":"admission",
      "valid_keys":""})");
    Admin("/admin/reset-stats", "{}");
  }

  std::string Url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(server_->port()) + path;
  }

  json Admin(const std::string& path, const std::string& body) {
    HttpRequest req{.url = Url(path), .body = body};
    Result<HttpResponse> r = (*engine_)->Send(req);
    EXPECT_TRUE(r.ok() && r->status == 200) << path;
    return r.ok() ? json::parse(r->body, nullptr, false) : json();
  }

  json Stats() {
    HttpRequest req{.url = Url("/stats"), .method = "GET"};
    Result<HttpResponse> r = (*engine_)->Send(req);
    return r.ok() ? json::parse(r->body, nullptr, false) : json();
  }

  std::unique_ptr<LlmClient> Client(const std::string& provider, const std::string& name,
                                    json options, const std::string& key = "test-key-123456") {
    const std::string base = Url(provider == "openai" ? "/v1" : "");
    json o = {{"base_url", base},
              {"api_key_env", "FAKE_KEY"},
              {"retry", {{"base_backoff_ms", 10}, {"max_backoff_ms", 40}, {"max_attempts", 4}}},
              {"price", {{"input", 1.0}, {"output", 2.0}}}};
    for (auto it = options.begin(); it != options.end(); ++it) o[it.key()] = it.value();
    ProviderEnv env;
    env.get_secret = [key](const std::string& n) -> std::optional<std::string> {
      return n == "FAKE_KEY" ? std::optional<std::string>(key) : std::nullopt;
    };
    env.http = *engine_;
    ModelSpec spec{provider + ":" + name, provider, name, o.dump()};
    Result<std::unique_ptr<LlmClient>> c = MakeProviderClient(spec, env);
    EXPECT_TRUE(c.ok()) << c.status().ToString();
    return c.ok() ? std::move(c).value() : nullptr;
  }

  static LlmRequest Ask(const std::string& text) {
    LlmRequest r;
    r.messages = {{.role = "system", .content = "Be brief."}, {.role = "user", .content = text}};
    return r;
  }

  // Counts the rate-limit reports that carried a request limit (retries go ahead).
  class CountingObserver final : public CallObserver {
   public:
    explicit CountingObserver(std::atomic<int>& n) : n_(n) {}
    void OnRateInfo(const RateLimitInfo& i) override {
      if (i.limit_requests > 0) n_.fetch_add(1);
    }
    Status BeforeRetry(const AttemptOutcome&) override { return Status::OK(); }

   private:
    std::atomic<int>& n_;
  };

  static FakeLlm* server_;
  static std::shared_ptr<HttpEngine>* engine_;
  std::atomic<int> rate_infos_{0};
};

FakeLlm* LlmAgainstFakeLlm::server_ = nullptr;
std::shared_ptr<HttpEngine>* LlmAgainstFakeLlm::engine_ = nullptr;

TEST_F(LlmAgainstFakeLlm, BothFormatsSucceedAndAreCosted) {
  for (const char* provider : {"openai", "anthropic"}) {
    auto client = Client(provider, "model-a", json::object());
    Result<LlmResponse> r = client->Complete(Ask("What is 2+2?"));
    ASSERT_TRUE(r.ok()) << provider << ": " << r.status().ToString();
    EXPECT_NE(r->content.find("<<<"), std::string::npos);
    EXPECT_EQ(r->http_status, 200);
    EXPECT_EQ(r->attempts, 1);
    EXPECT_GT(r->usage.input_tokens, 0);
    EXPECT_GT(r->usage.output_tokens, 0);
    EXPECT_FALSE(r->usage.estimated);
    EXPECT_DOUBLE_EQ(r->cost_usd,
                     (r->usage.input_tokens * 1.0 + r->usage.output_tokens * 2.0) / 1e6);
  }
  EXPECT_EQ(Stats()["ok"], 2);
}

TEST_F(LlmAgainstFakeLlm, TransientErrorsAreRetriedAndCounted) {
  Admin("/admin/config", R"({"p_500":0.2,"p_502":0.2,"p_503":0.2})");
  auto client =
      Client("openai", "m",
             {{"retry", {{"max_attempts", 12}, {"base_backoff_ms", 1}, {"max_backoff_ms", 5}}}});
  int attempts = 0;
  for (int i = 0; i < 20; ++i) {
    Result<LlmResponse> r = client->Complete(Ask("q" + std::to_string(i)));
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    attempts += r->attempts;
  }
  json s = Stats();
  EXPECT_EQ(s["requests"], attempts);
  EXPECT_GT(s["errors_5xx"].get<int>(), 0);
  EXPECT_EQ(s["ok"], 20);
}

TEST_F(LlmAgainstFakeLlm, RateLimitHonoursRetryAfterWithoutSpendingAttempts) {
  // Capacity 2 requests, refill 10/s: bursts of 8 concurrent calls get 429s with short waits.
  Admin("/admin/config", R"({"rpm":600,"burst_s":0.2})");
  std::atomic<int> ok{0}, limited{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      auto client = Client("anthropic", "m", {{"retry", {{"max_attempts", 1}}}}, "rl-key-0001");
      CountingObserver observer(rate_infos_);
      Result<LlmResponse> r = client->Complete(Ask("burst " + std::to_string(t)), observer);
      if (r.ok()) {
        ++ok;
        limited += r->rate_limited;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(ok.load(), 8);  // max_attempts = 1: no 429 consumed an attempt
  json s = Stats();
  EXPECT_GT(s["rate_limited"].get<int>(), 0);
  EXPECT_EQ(s["rate_limited"].get<int>(), limited.load());
  EXPECT_GT(rate_infos_.load(), 0);
}

TEST_F(LlmAgainstFakeLlm, PermanentErrorsFailAtOnceWithKeyRedacted) {
  Admin("/admin/config", R"({"valid_keys":"good-key-999999"})");
  const std::string secret = "bad-secret-key-424242";
  auto client = Client("openai", "m", json::object(), secret);
  Result<LlmResponse> r = client->Complete(Ask("x"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(r.status().message().find(secret), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find("401"), std::string::npos);
  EXPECT_EQ(client->last_call_stats().attempts, 1);

  auto missing = Client("anthropic", "missing-model", json::object(), "good-key-999999");
  Result<LlmResponse> m = missing->Complete(Ask("x"));
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(Stats()["requests"], 2);
}

TEST_F(LlmAgainstFakeLlm, TruncatedJsonIsTransientOnceThenPermanent) {
  Admin("/admin/config", R"({"p_truncate":1.0})");
  auto client = Client("openai", "m", json::object());
  Result<LlmResponse> r = client->Complete(Ask("x"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("malformed"), std::string::npos);
  EXPECT_EQ(client->last_call_stats().attempts, 2);
  EXPECT_EQ(client->last_call_stats().http_status, 200);
}

TEST_F(LlmAgainstFakeLlm, DroppedConnectionsAndServerErrorsExhaustAttempts) {
  for (const char* fault : {R"({"p_drop":1.0})", R"({"p_503":1.0})"}) {
    Admin("/admin/config", R"({"p_drop":0,"p_503":0})");
    Admin("/admin/config", fault);
    auto client =
        Client("anthropic", "m", {{"retry", {{"max_attempts", 3}, {"base_backoff_ms", 1}}}});
    Result<LlmResponse> r = client->Complete(Ask("x"));
    ASSERT_FALSE(r.ok()) << fault;
    EXPECT_EQ(r.status().code(), StatusCode::kUnavailable) << r.status().ToString();
    EXPECT_EQ(client->last_call_stats().attempts, 3) << fault;
  }
}

TEST_F(LlmAgainstFakeLlm, IdenticalServerErrorIsPermanentAfterTwoRequests) {
  // Before: 5 requests per call (and the cell retried on two more leases).
  for (const char* format : {"openai", "anthropic"}) {
    Admin("/admin/reset-stats", "{}");
    auto client = Client(format, "broken-7b", {{"retry", {{"base_backoff_ms", 1}}}});
    Result<LlmResponse> r = client->Complete(Ask("x"));
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << r.status().ToString();
    EXPECT_NE(r.status().message().find("is broken"), std::string::npos);
    EXPECT_EQ(client->last_call_stats().attempts, 2);
    EXPECT_EQ(client->last_call_stats().http_status, 500);
    EXPECT_EQ(Stats()["requests"], 2) << format;
  }
}

TEST_F(LlmAgainstFakeLlm, EmptyOkBodyIsTransientForTheCall) {
  // Before: "malformed response twice", a permanent failure after two requests.
  Admin("/admin/config", R"({"p_empty":1.0})");
  auto client = Client("openai", "m", {{"retry", {{"max_attempts", 3}, {"base_backoff_ms", 1}}}});
  Result<LlmResponse> r = client->Complete(Ask("x"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable) << r.status().ToString();
  EXPECT_EQ(client->last_call_stats().attempts, 3);
  EXPECT_EQ(Stats()["empty"], 3);
}

TEST_F(LlmAgainstFakeLlm, OversizedBodyIsRefused) {
  Admin("/admin/config", R"({"p_oversize":1.0,"oversize_bytes":34000000})");
  auto client = Client("openai", "m", json::object());
  Result<LlmResponse> r = client->Complete(Ask("x"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << r.status().ToString();
  EXPECT_EQ(client->last_call_stats().attempts, 2);
}

TEST_F(LlmAgainstFakeLlm, HungServerNeverHoldsCallerPastDeadline) {
  Admin("/admin/config", R"({"p_slow":1.0,"slow_ms":20000})");
  auto client = Client("openai", "m",
                       {{"timeouts", {{"total_ms", 300}, {"deadline_ms", 1500}}},
                        {"retry", {{"max_attempts", 10}, {"base_backoff_ms", 10}}}});
  const auto start = Clock_::now();
  Result<LlmResponse> r = client->Complete(Ask("x"));
  const auto took = Clock_::now() - start;
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kDeadlineExceeded) << r.status().ToString();
  EXPECT_LT(took, std::chrono::milliseconds(3000));
  EXPECT_GE(client->last_call_stats().attempts, 2);
}

TEST_F(LlmAgainstFakeLlm, LiveConfigRejectsUnknownFields) {
  json c = Admin("/admin/config", R"({"rpm":300})");
  EXPECT_EQ(c["rpm"], 300);
  HttpRequest bad{.url = Url("/admin/config"), .body = R"({"nope":1})"};
  Result<HttpResponse> r = (*engine_)->Send(bad);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 400);
}

// Regression: fakellm used to hold a thread per connection (cpp-httplib), so slow requests queued
// behind its pool and a few hundred idle keep-alive connections kept it busy. Now 2 I/O threads
// hold every request of a burst at once, and the client engine runs them all without a thread
// per call.
// latency_key "prompt": a request's latency follows from its messages, so two runners compared
// side by side wait the same for the same prompt; "admission" draws anew for every request.
TEST_F(LlmAgainstFakeLlm, LatencyKeyedByPromptIsTheSameForTheSamePrompt) {
  auto latency = [&](const std::string& prompt) {
    HttpRequest req{.url = Url("/v1/chat/completions"),
                    .headers = {{"Content-Type", "application/json"}},
                    .body = json{
                        {"model", "m"},
                        {"messages", {{{"role", "user"}, {"content", prompt}}}},
                        {"max_tokens",
                         5}}.dump()};
    Result<HttpResponse> r = (*engine_)->Send(req);
    EXPECT_TRUE(r.ok() && r->status == 200);
    if (!r.ok()) return std::string();
    for (const auto& [k, v] : r->headers) {
      if (k == "x-fakellm-latency-ms") return v;
    }
    ADD_FAILURE() << "no x-fakellm-latency-ms header";
    return std::string();
  };
  Admin("/admin/config",
        R"({"latency_ms":20,"latency_dist":"exponential","latency_key":"prompt"})");
  const std::string a = latency("What is 6*7?");
  EXPECT_EQ(latency("What is 6*7?"), a);
  EXPECT_EQ(latency("What is 6*7?"), a);
  std::set<std::string> seen = {a};
  for (const char* p : {"What is 2*3?", "What is 9*9?", "What is 5*8?", "What is 7*7?"}) {
    seen.insert(latency(p));
  }
  EXPECT_GT(seen.size(), 1u) << "every prompt drew the same latency";
  Admin("/admin/config", R"({"latency_key":"admission"})");
  std::set<std::string> drawn;
  for (int i = 0; i < 5; ++i) drawn.insert(latency("What is 6*7?"));
  EXPECT_GT(drawn.size(), 1u) << "admission: the same prompt drew the same latency 5 times";
  HttpRequest bad{.url = Url("/admin/config"), .body = R"({"latency_key":"random"})"};
  Result<HttpResponse> r = (*engine_)->Send(bad);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 400) << r->body;
}

TEST_F(LlmAgainstFakeLlm, ManySlowRequestsAreHeldAtOnce) {
  Admin("/admin/config", R"({"latency_ms":1500})");
  constexpr int kCalls = 300;
  std::mutex mu;
  std::condition_variable cv;
  int done = 0, ok = 0;
  const std::string body =
      R"({"model":"m","messages":[{"role":"user","content":"slow"}],"max_tokens":5})";
  for (int i = 0; i < kCalls; ++i) {
    HttpRequest req{.url = Url("/v1/chat/completions"),
                    .headers = {{"Content-Type", "application/json"}},
                    .body = body};
    (*engine_)->SendAsync(req, [&](Result<HttpResponse> r) {
      std::lock_guard<std::mutex> lock(mu);
      ok += r.ok() && r->status == 200 ? 1 : 0;
      ++done;
      cv.notify_all();
    });
  }
  std::unique_lock<std::mutex> lock(mu);
  ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(60), [&] { return done == kCalls; }));
  EXPECT_EQ(ok, kCalls);
  json s = Stats();
  EXPECT_GE(s["max_inflight"].get<int>(), kCalls);  // all in the server at the same time
  EXPECT_EQ(s["ok"], kCalls);
}

// Bytes that are not HTTP, or a body over the limit, get an error answer; fakellm keeps serving.
TEST_F(LlmAgainstFakeLlm, MalformedHttpIsRefusedAndServerStaysUp) {
  auto exchange = [this](const std::string& bytes) {
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(server_->port()));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    std::string reply;
    if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
        write(fd, bytes.data(), bytes.size()) == static_cast<ssize_t>(bytes.size())) {
      char buf[512];
      pollfd p{fd, POLLIN, 0};
      if (poll(&p, 1, 10'000) > 0) {
        const ssize_t n = read(fd, buf, sizeof(buf));
        if (n > 0) reply.assign(buf, static_cast<size_t>(n));
      }
    }
    close(fd);
    return reply;
  };
  EXPECT_TRUE(exchange("\x01\x02 not http at all\r\n\r\n").starts_with("HTTP/1.1 400"));
  EXPECT_TRUE(
      exchange("POST /v1/messages HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999\r\n\r\n")
          .starts_with("HTTP/1.1 413"));
  auto client = Client("openai", "m", json::object());
  EXPECT_TRUE(client->Complete(Ask("still there?")).ok());
}

// An engine destroyed with transfers in flight ends each of them once, with kUnavailable.
TEST_F(LlmAgainstFakeLlm, EngineShutdownCancelsTransfersInFlight) {
  Admin("/admin/config", R"({"latency_ms":3000})");
  std::atomic<int> cancelled{0}, other{0};
  {
    std::shared_ptr<HttpEngine> engine = *MakeHttpEngine();
    for (int i = 0; i < 20; ++i) {
      HttpRequest req{.url = Url("/v1/chat/completions"),
                      .body = R"({"model":"m","messages":[{"role":"user","content":"x"}]})"};
      engine->SendAsync(req, [&](Result<HttpResponse> r) {
        (!r.ok() && r.status().code() == StatusCode::kUnavailable ? cancelled : other)++;
      });
    }
    const auto deadline = Clock_::now() + std::chrono::seconds(20);
    while (Stats()["inflight"].get<int>() < 20 && Clock_::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    EXPECT_EQ(engine->in_flight(), 20);
  }
  EXPECT_EQ(cancelled.load(), 20);
  EXPECT_EQ(other.load(), 0);
  // fakellm ends the abandoned requests when their latency is over (the suite shares it).
  const auto deadline = Clock_::now() + std::chrono::seconds(20);
  while (Stats()["inflight"].get<int>() > 0 && Clock_::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(Stats()["inflight"], 0);
}

// Tool calls both ways, scripted through a replay file, in both formats.
TEST(FakeLlmReplay, ToolCallsRoundTrip) {
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("cs_llm_replay_" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  json replay = {
      {"sequences",
       {{"*",
         {{{"content", ""},
           {"tool_calls",
            {{{"id", "call_1"}, {"name", "python"}, {"arguments", R"J({"code":"print(6*7)"})J"}}}}},
          {{"content", "It is <<<42>>>"}}}}}}};
  std::ofstream(dir / "replay.json") << replay.dump();
  FakeLlm server({"--port", "0", "--threads", "8", "--replay", (dir / "replay.json").string(),
                  "--record", (dir / "record.jsonl").string()});
  ASSERT_GT(server.port(), 0);
  std::shared_ptr<HttpEngine> engine = *MakeHttpEngine();
  for (const char* provider : {"openai", "anthropic"}) {
    std::string base = "http://127.0.0.1:" + std::to_string(server.port()) +
                       (std::string(provider) == "openai" ? "/v1" : "");
    ProviderEnv env;
    env.http = engine;
    ModelSpec spec{std::string(provider) + ":m", provider, "m",
                   json{{"base_url", base}, {"api_key_env", ""}}.dump()};
    auto client = std::move(MakeProviderClient(spec, env)).value();
    LlmRequest req;
    req.messages = {{.role = "user", .content = "Compute 6*7 with the tool."}};
    req.tools = {
        {"python", "Run Python", R"({"type":"object","properties":{"code":{"type":"string"}}})"}};
    Result<LlmResponse> first = client->Complete(req);
    ASSERT_TRUE(first.ok()) << first.status().ToString();
    ASSERT_EQ(first->tool_calls.size(), 1u) << provider;
    EXPECT_EQ(first->finish_reason, "tool_calls");
    EXPECT_EQ(json::parse(first->tool_calls[0].arguments_json)["code"], "print(6*7)");
    ChatMessage assistant{.role = "assistant", .content = first->content};
    assistant.tool_calls = first->tool_calls;
    req.messages.push_back(assistant);
    req.messages.push_back(
        {.role = "tool", .content = "42\n", .tool_call_id = "call_1", .name = "python"});
    Result<LlmResponse> second = client->Complete(req);
    ASSERT_TRUE(second.ok()) << second.status().ToString();
    EXPECT_EQ(second->content, "It is <<<42>>>");
    EXPECT_TRUE(second->tool_calls.empty());
  }
  EXPECT_EQ(server.Terminate(), 0);  // clean shutdown on SIGTERM
  std::ifstream rec(dir / "record.jsonl");
  int lines = 0;
  for (std::string line; std::getline(rec, line);) ++lines;
  EXPECT_EQ(lines, 4);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace codesweep
