// bench_ratelimit: (1) utilisation and 429 rate of the cluster rate budget against fakellm, side by
// side with a baseline of per-worker limits (each of 4 workers held to 1/4 of the budget, naive
// sleep-and-retry on 429), in the same run and under the same fakellm: a steady phase and one
// with the provider's limit halved mid-run; (2) CALL/GRANT overhead at the coordinator over tcp
// loopback with the cache warm (grants/s). Prints a table; numbers go to BENCHMARKS.md.
//   bench_ratelimit [--calls N] [--rpm R] [--grants N] [--fakellm PATH]
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "coordinator/coordinator.h"
#include "coordinator/rate_bucket.h"
#include "coordinator/rate_cluster.h"
#include "jobs/llm/http.h"
#include "jobs/llm/provider_options.h"
#include "jobs/llm/providers.h"
#include "schema/codec.h"
#include "worker/job_runner.h"
#include "worker/worker.h"

namespace codesweep {
namespace {

constexpr int kWorkers = 4;
constexpr int kSlots = 64;

struct Flags {
  int calls = 2000;
  double rpm = 6000;
  int grants = 200'000;
  std::string fakellm;
};

int64_t NowMs() {
  return std::chrono::duration_cast<Millis>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// fakellm as a child process in its own process group.
class FakeLlm {
 public:
  FakeLlm(const std::string& path, double rpm) {
    int fds[2];
    if (pipe(fds) != 0) return;
    pid_ = fork();
    if (pid_ == 0) {
      setpgid(0, 0);
      dup2(fds[1], 1);
      int null = open("/dev/null", O_WRONLY);
      dup2(null, 2);
      std::string r = std::to_string(static_cast<int64_t>(rpm));
      execl(path.c_str(), path.c_str(), "--port", "0", "--rpm", r.c_str(), "--burst-s", "1",
            "--latency-ms", "20", static_cast<char*>(nullptr));
      _exit(127);
    }
    close(fds[1]);
    Result<std::shared_ptr<HttpEngine>> engine = MakeHttpEngine();
    if (engine.ok()) http_ = *engine;
    char buf[64] = {0};
    ssize_t n = read(fds[0], buf, sizeof buf - 1);
    port_ = n > 0 ? std::atoi(buf) : 0;
  }
  ~FakeLlm() {
    if (pid_ > 0) {
      kill(-pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }
  int port() const { return port_; }
  nlohmann::json Stats() const {
    auto j = nlohmann::json::parse(Fetch("GET", "/stats", ""), nullptr, false);
    return j.is_discarded() ? nlohmann::json::object() : j;
  }
  void Post(const std::string& path, const std::string& body) const { Fetch("POST", path, body); }

 private:
  // One HTTP exchange with fakellm through the project's engine.
  std::string Fetch(const std::string& method, const std::string& path,
                    const std::string& body) const {
    if (!http_) return "";
    HttpRequest req;
    req.url = "http://127.0.0.1:" + std::to_string(port_) + path;
    req.method = method;
    req.body = body;
    req.headers = {{"Content-Type", "application/json"}};
    Result<HttpResponse> r = http_->Send(std::move(req));
    return r.ok() ? r->body : "";
  }

  pid_t pid_ = -1;
  int port_ = 0;
  std::shared_ptr<HttpEngine> http_;
};

ModelSpec FakeModel(int port) {
  nlohmann::json o = {{"base_url", "http://127.0.0.1:" + std::to_string(port) + "/v1"},
                      {"api_key_env", ""}};
  return ModelSpec{"openai:fake", "openai", "fake", o.dump()};
}

LlmRequest RequestFor(int64_t i, int tag) {
  LlmRequest r;
  r.messages.push_back({.role = "user",
                        .content = "bench " + std::to_string(tag) + " call " + std::to_string(i) +
                                   ": say something"});
  r.gen.max_tokens = 64;
  return r;
}

struct Outcome {
  double wall_s = 0;
  int64_t ok = 0, requests = 0, rate_limited = 0, failed = 0;
};

// Calls the limit changes to `halve_to` rpm after `halve_after` ok calls (0 = never).
void MaybeHalve(const FakeLlm& llm, std::atomic<int64_t>& done, int64_t halve_after,
                double halve_to, std::atomic<bool>& halved) {
  if (halve_after > 0 && !halved.load() && done.load() >= halve_after && !halved.exchange(true)) {
    llm.Post("/admin/config", "{\"rpm\": " + std::to_string(static_cast<int64_t>(halve_to)) + "}");
  }
}

// Baseline: 4 workers x 64 slots pulling calls from one counter; each worker holds its own
// bucket of rpm/4 and its client sleeps Retry-After and retries on 429 (the provider default).
Outcome RunBaseline(const FakeLlm& llm, const Flags& f, int64_t halve_after, int tag) {
  Result<std::shared_ptr<HttpEngine>> http = MakeHttpEngine();
  ProviderEnv env;
  env.http = *http;
  env.prices = std::make_shared<const PriceTable>();
  ModelSpec model = FakeModel(llm.port());
  std::atomic<int64_t> next{0}, done{0}, failed{0};
  std::atomic<bool> halved{false};
  std::vector<std::thread> threads;
  const int64_t start = NowMs();
  for (int w = 0; w < kWorkers; ++w) {
    auto bucket = std::make_shared<TokenBucket>();
    auto mu = std::make_shared<std::mutex>();
    bucket->Configure(f.rpm / kWorkers, 0, 1'000, NowMs());
    for (int s = 0; s < kSlots; ++s) {
      threads.emplace_back([&, bucket, mu] {
        auto client = MakeProviderClient(model, env);
        for (int64_t i = next++; i < f.calls; i = next++) {
          while (true) {
            std::unique_lock<std::mutex> lock(*mu);
            bucket->Refill(NowMs());
            if (bucket->Fits(1)) {
              bucket->Take(1);
              break;
            }
            int64_t wait = bucket->MsUntilFits(1);
            lock.unlock();
            std::this_thread::sleep_for(Millis(std::max<int64_t>(wait, 1)));
          }
          Result<LlmResponse> r = (*client)->Complete(RequestFor(i, tag));
          r.ok() ? ++done : ++failed;
          MaybeHalve(llm, done, halve_after, f.rpm / 2, halved);
        }
      });
    }
  }
  for (auto& t : threads) t.join();
  Outcome o;
  o.wall_s = static_cast<double>(NowMs() - start) / 1000.0;
  o.failed = failed.load();
  return o;
}

// codesweep: a coordinator with the ClusterRateLimiter and 4 workers x 64 slots over inproc; each
// job makes one metered call (CALL/GRANT, 429 -> CALL_RESULT and CALL again).
Outcome RunCodesweep(const FakeLlm& llm, const Flags& f, int64_t halve_after, int tag) {
  std::filesystem::path dir =
      std::filesystem::temp_directory_path() /
      ("bench_ratelimit_" + std::to_string(getpid()) + "_" + std::to_string(tag));
  std::filesystem::create_directories(dir);
  Outcome o;
  {
    auto store = Store::Open((dir / "db").string(), {});
    ModelSpec model = FakeModel(llm.port());
    nlohmann::json config = {{"models",
                              {{{"id", "openai:fake"},
                                {"key_alias", ""},
                                {"options", nlohmann::json::parse(model.options_json)},
                                {"limits", {{"rpm", f.rpm}}}}}}};
    int64_t sweep = *(*store)->UpsertSweep({"bench", 1, 3, "", "", config.dump()});
    VariantRecord v;
    v.model = model;
    int64_t variant = *(*store)->UpsertVariant(v);
    std::vector<CellRow> cells;
    for (int i = 0; i < f.calls; ++i) {
      cells.push_back({CellKey("c" + std::to_string(tag) + "_" + std::to_string(i)),
                       "number_multiply", "1_2", i, variant, "only_question", 1});
    }
    (void)(*store)->InsertCells(sweep, cells);
    (void)(*store)->Commit();
    Result<std::shared_ptr<HttpEngine>> http = MakeHttpEngine();
    ProviderEnv env;
    env.http = *http;
    env.prices = std::make_shared<const PriceTable>();
    env.rate_limit_by_caller = true;
    auto relay = std::make_shared<RateInfoRelay>();
    env.on_rate_info = [relay](const ModelSpec&, const RateLimitInfo& i) { relay->Publish(i); };
    std::atomic<int64_t> done{0}, failed{0};
    std::atomic<bool> halved{false};
    JobRunner runner = [&](const JobSpec& spec, CallGate& gate) {
      auto inner = MakeProviderClient(model, env);
      auto client = MakeMeteredClient(std::move(*inner), model, gate, relay.get());
      Result<LlmResponse> r = client->Complete(RequestFor(spec.sample, tag));
      r.ok() ? ++done : ++failed;
      MaybeHalve(llm, done, halve_after, f.rpm / 2, halved);
      codesweep::Outcome out;
      out.correct = r.ok();
      out.final_answer = "x";
      return out;
    };
    SystemClock clock;
    WireContext ctx;
    CoordinatorLoopOptions lo;
    lo.core.exit_when_done = true;
    lo.core.sweep_id = sweep;
    lo.core.rate.burst_ms = 1'000;
    ClusterRateLimiter limiter(lo.core.rate);
    Logger log(stderr, LogLevel::kError, "bench");
    Coordinator coord(**store, ctx, clock, log, lo, &limiter);
    std::string endpoint = "inproc://bench-ratelimit-" + std::to_string(tag);
    (void)coord.Bind(endpoint);
    std::vector<std::unique_ptr<Worker>> workers;
    std::vector<std::thread> threads;
    const int64_t start = NowMs();
    for (int w = 0; w < kWorkers; ++w) {
      WorkerOptions wo;
      wo.connect = endpoint;
      wo.worker_id = "w" + std::to_string(w);
      wo.slots = kSlots;
      wo.drain_timeout_ms = 2'000;
      workers.push_back(std::make_unique<Worker>(ctx, clock, log, wo, runner));
      threads.emplace_back([wk = workers.back().get()] { (void)wk->Run(); });
    }
    (void)coord.Run();
    o.wall_s = static_cast<double>(NowMs() - start) / 1000.0;
    for (auto& w : workers) w->Stop();
    for (auto& t : threads) t.join();
    o.failed = failed.load();
  }
  std::filesystem::remove_all(dir);
  return o;
}

void Report(const char* scenario, const char* mode, const Outcome& o, const nlohmann::json& s,
            double budget_calls) {
  double ok = s.value("ok", 0.0), req = s.value("requests", 0.0), rl = s.value("rate_limited", 0.0);
  std::printf("%-22s %-28s %8.0f %8.0f %7.0f %7.2f%% %7.1f s %8.1f%%\n", scenario, mode, ok, req,
              rl, req > 0 ? 100 * rl / req : 0, o.wall_s, 100 * ok / budget_calls);
}

// Calls the provider would have allowed over `wall_s` (1 s burst + refill), halved after the
// change when `halve_fraction` > 0 (approximated by the time share of the two phases).
double Budget(double rpm, double wall_s) { return rpm / 60.0 * wall_s + rpm / 60.0; }

void Compare(const Flags& f, const char* name, bool halve) {
  int64_t halve_after = halve ? f.calls * 2 / 5 : 0;
  for (int mode = 0; mode < 2; ++mode) {
    FakeLlm llm(f.fakellm, f.rpm);
    if (llm.port() == 0) {
      std::fprintf(stderr, "fakellm did not start (%s)\n", f.fakellm.c_str());
      return;
    }
    const int tag = (halve ? 10 : 0) + mode;
    const int64_t t0 = NowMs();
    Outcome o =
        mode == 0 ? RunCodesweep(llm, f, halve_after, tag) : RunBaseline(llm, f, halve_after, tag);
    nlohmann::json s = llm.Stats();
    // The budget: full rate until the change, half after (the change time from the ok count).
    double budget = Budget(f.rpm, o.wall_s);
    if (halve) {
      double before_s = static_cast<double>(halve_after) / (f.rpm / 60.0);
      budget = Budget(f.rpm, before_s) + f.rpm / 120.0 * std::max(0.0, o.wall_s - before_s);
    }
    (void)t0;
    Report(name, mode == 0 ? "codesweep (cluster budget)" : "per-worker 1/4 + retry", o, s, budget);
  }
}

bool Got(const Result<bool>& r) { return r.ok() && *r; }

// CALL/GRANT overhead: one DEALER pipelines CALLs for cached keys at a tcp coordinator.
void GrantOverhead(const Flags& f) {
  std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("bench_grants_" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  {
    auto store = Store::Open((dir / "db").string(), {});
    (void)(*store)->UpsertSweep({"bench", 1, 3, "", "", "{}"});
    const int keys = 10'000;
    for (int i = 0; i < keys; ++i) {
      (void)(*store)->PutCall({"key" + std::to_string(i), "openai", "fake",
                               R"({"content":"cached answer"})", 10, 5, 1});
    }
    (void)(*store)->Commit();
    SystemClock clock;
    WireContext ctx;
    CoordinatorLoopOptions lo;
    ClusterRateLimiter limiter;
    Logger log(stderr, LogLevel::kError, "bench");
    Coordinator coord(**store, ctx, clock, log, lo, &limiter);
    (void)coord.Bind("tcp://127.0.0.1:0");
    std::thread loop([&] { (void)coord.Run(); });
    ChannelOptions co;
    co.identity = "bench-worker";
    auto ch = Channel::Connect(ctx, Channel::Kind::kDealer, coord.endpoint(), co);
    HelloMsg hello;
    hello.worker_id = "bench-worker";
    hello.slots = 1;
    (void)(*ch)->Send(Encode(hello));
    Envelope env;
    while (Got((*ch)->RecvWait(&env, Millis(1000)))) {
      if (Decode(env.frame).ok() && std::holds_alternative<WelcomeMsg>(*Decode(env.frame))) break;
    }
    const int window = 1'000;
    int sent = 0, granted = 0;
    const int64_t start = NowMs();
    while (granted < f.grants) {
      while (sent < f.grants && sent - granted < window) {
        CallMsg c{0, 0, "key" + std::to_string(sent % keys), "openai", "fake", "", 10};
        (void)(*ch)->Send(Encode(c));
        ++sent;
      }
      if (!Got((*ch)->RecvWait(&env, Millis(2000)))) break;
      Result<Message> m = Decode(env.frame);
      if (m.ok() && std::holds_alternative<GrantMsg>(*m)) ++granted;
    }
    const double secs = static_cast<double>(NowMs() - start) / 1000.0;
    std::printf("CALL/GRANT over tcp loopback, cache warm: %d grants in %.2f s = %.0f grants/s\n",
                granted, secs, granted / secs);
    coord.Stop();
    loop.join();
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace codesweep

int main(int argc, char** argv) {
  codesweep::Flags f;
  std::string self = std::filesystem::canonical("/proc/self/exe").parent_path().string();
  f.fakellm = self + "/../fakellm";
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--calls") f.calls = std::atoi(argv[i + 1]);
    if (a == "--rpm") f.rpm = std::atof(argv[i + 1]);
    if (a == "--grants") f.grants = std::atoi(argv[i + 1]);
    if (a == "--fakellm") f.fakellm = argv[i + 1];
  }
  std::printf(
      "fakellm: rpm %.0f, 1 s burst, 20 ms latency; %d calls per run; 4 workers x 64 "
      "slots\n\n%-22s %-28s %8s %8s %7s %8s %9s %9s\n",
      f.rpm, f.calls, "scenario", "mode", "ok", "requests", "429s", "429 %", "wall", "util.");
  codesweep::Compare(f, "steady", false);
  codesweep::Compare(f, "limit halved at 40%", true);
  std::printf("\n");
  codesweep::GrantOverhead(f);
  return 0;
}
