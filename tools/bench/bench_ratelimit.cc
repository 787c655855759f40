// bench_ratelimit: (1) utilisation and 429 rate of the cluster rate budget against fakellm, side by
// side with a baseline of per-worker limits (each of 4 workers held to 1/4 of the budget, naive
// sleep-and-retry on 429), in the same run and under the same fakellm, in three scenarios: steady,
// the provider's limit halved mid-run, and workers of unequal capacity (64/64/16/8 slots, ~1 s
// latency); (2) CALL/GRANT overhead at the coordinator over tcp loopback with the cache warm.
// fakellm counts 429'd requests against the RPM budget, as real providers do, unless
// --count-rejected 0. Utilisation = ok calls per second over the steady part of the run (20 % to
// 90 % of its wall time; after a limit change, from 3 s after it) / the binding limit. The
// baseline stops after --baseline-deadline-s (calls not done by then count as failed).
//   bench_ratelimit [--calls N] [--rpm R] [--grants N] [--count-rejected 0|1]
//                   [--client-burst-ms MS]
//                   [--baseline-deadline-s S] [--fakellm PATH]
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
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
#include "coordinator/ratelimit/bucket.h"
#include "coordinator/ratelimit/cluster_limiter.h"
#include "jobs/llm/http.h"
#include "jobs/llm/provider_options.h"
#include "jobs/llm/providers.h"
#include "schema/codec.h"
#include "worker/job_runner.h"
#include "worker/worker.h"

namespace codesweep {
namespace {

constexpr int kWorkers = 4;

struct Flags {
  int calls = 2000;
  double rpm = 6000;
  int grants = 200'000;
  bool count_rejected = true;
  // The client-side buckets' burst (codesweep's limiter and the baseline's per-worker buckets
  // alike). Below fakellm's 1 s, so that grants bunched by CALL -> GRANT -> HTTP delays still
  // fit the provider's bucket (docs/ratelimit.md, "Burst").
  int64_t client_burst_ms = 500;
  int64_t baseline_deadline_s = 120;  // the baseline takes no new call after this, and one call
                                      // (its 429 retries included) gives up after this
  std::string fakellm;
};

// One side-by-side scenario: fakellm's latency and each worker's slots.
struct Scenario {
  const char* name;
  int64_t latency_ms = 20;
  int64_t jitter_ms = 0;
  std::vector<int> slots = {64, 64, 64, 64};
  bool halve = false;  // fakellm's limit halved after 40 % of the calls (codesweep not told)
};

int64_t NowMs() {
  return std::chrono::duration_cast<Millis>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// fakellm as a child process in its own process group.
class FakeLlm {
 public:
  FakeLlm(const Flags& f, const Scenario& sc) {
    const std::string r = std::to_string(static_cast<int64_t>(f.rpm));
    const std::string lat = std::to_string(sc.latency_ms);
    const std::string jit = std::to_string(sc.jitter_ms);
    const char* counted = f.count_rejected ? "true" : "false";
    int fds[2];
    if (pipe(fds) != 0) return;
    pid_ = fork();
    if (pid_ == 0) {
      setpgid(0, 0);
      dup2(fds[1], 1);
      int null = open("/dev/null", O_WRONLY);
      dup2(null, 2);
      execl(f.fakellm.c_str(), f.fakellm.c_str(), "--port", "0", "--rpm", r.c_str(), "--burst-s",
            "1", "--latency-ms", lat.c_str(), "--latency-jitter-ms", jit.c_str(),
            "--count-rejected", counted, static_cast<char*>(nullptr));
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

ModelSpec FakeModel(int port, int64_t deadline_ms = 0) {
  nlohmann::json o = {{"base_url", "http://127.0.0.1:" + std::to_string(port) + "/v1"},
                      {"api_key_env", ""}};
  if (deadline_ms > 0) o["retry"] = {{"deadline_ms", deadline_ms}};
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
  int64_t start_ms = 0;
  int64_t failed = 0;          // calls that failed or were not run before the deadline
  int64_t halved_at_ms = 0;    // when the limit was halved (0 = never)
  std::vector<int64_t> ok_ms;  // finish time of each ok call, ascending after the run
};

// Shared by a run's callers: counts, finish times and the mid-run halving of the limit.
class Recorder {
 public:
  Recorder(const FakeLlm& llm, int64_t halve_after, double halve_to)
      : llm_(llm), halve_after_(halve_after), halve_to_(halve_to) {}
  void Done(bool ok) {
    if (!ok) return;
    int64_t n = 0;
    {
      std::lock_guard<std::mutex> lock(mu_);
      ok_ms_.push_back(NowMs());
      n = static_cast<int64_t>(ok_ms_.size());
    }
    if (halve_after_ > 0 && n >= halve_after_ && !halved_.exchange(true)) {
      llm_.Post("/admin/config",
                "{\"rpm\": " + std::to_string(static_cast<int64_t>(halve_to_)) + "}");
      halved_at_ms_ = NowMs();
    }
  }
  Outcome Finish(int64_t start_ms, int64_t calls) {
    Outcome o;
    o.wall_s = static_cast<double>(NowMs() - start_ms) / 1000.0;
    o.start_ms = start_ms;
    o.halved_at_ms = halved_at_ms_.load();
    std::lock_guard<std::mutex> lock(mu_);
    o.ok_ms = ok_ms_;
    std::sort(o.ok_ms.begin(), o.ok_ms.end());
    o.failed = calls - static_cast<int64_t>(o.ok_ms.size());
    return o;
  }

 private:
  const FakeLlm& llm_;
  const int64_t halve_after_;
  const double halve_to_;
  std::mutex mu_;
  std::vector<int64_t> ok_ms_;
  std::atomic<int64_t> halved_at_ms_{0};
  std::atomic<bool> halved_{false};
};

// Baseline: 4 workers with sc.slots slots pulling calls from one counter; each worker holds its
// own bucket of rpm/4 and its client sleeps Retry-After and retries on 429 (the provider default).
Outcome RunBaseline(const FakeLlm& llm, const Flags& f, const Scenario& sc, Recorder& rec,
                    int tag) {
  Result<std::shared_ptr<HttpEngine>> http = MakeHttpEngine();
  ProviderEnv env;
  env.http = *http;
  env.prices = std::make_shared<const PriceTable>();
  const int64_t deadline_ms = f.baseline_deadline_s * 1000;
  ModelSpec model = FakeModel(llm.port(), deadline_ms);
  std::atomic<int64_t> next{0};
  std::vector<std::thread> threads;
  const int64_t start = NowMs();
  for (int w = 0; w < kWorkers; ++w) {
    auto bucket = std::make_shared<TokenBucket>();
    auto mu = std::make_shared<std::mutex>();
    bucket->Configure(f.rpm / kWorkers, 0, f.client_burst_ms, NowMs());
    for (int s = 0; s < sc.slots[w]; ++s) {
      threads.emplace_back([&, bucket, mu] {
        auto client = MakeProviderClient(model, env);
        for (int64_t i = next++; i < f.calls && NowMs() - start < deadline_ms; i = next++) {
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
          rec.Done((*client)->Complete(RequestFor(i, tag)).ok());
        }
      });
    }
  }
  for (auto& t : threads) t.join();
  return rec.Finish(start, f.calls);
}

// codesweep: a coordinator with the ClusterRateLimiter and 4 workers x 64 slots over inproc; each
// job makes one metered call (CALL/GRANT, 429 -> CALL_RESULT and CALL again).
Outcome RunCodesweep(const FakeLlm& llm, const Flags& f, const Scenario& sc, Recorder& rec,
                     int tag) {
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
    JobRunner runner = [&](const JobSpec& spec, CallGate& gate) {
      auto inner = MakeProviderClient(model, env);
      auto client = MakeMeteredClient(std::move(*inner), model, gate);
      Result<LlmResponse> r = client->Complete(RequestFor(spec.sample, tag));
      rec.Done(r.ok());
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
    lo.core.rate.burst_ms = f.client_burst_ms;
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
      wo.slots = sc.slots[w];
      wo.drain_timeout_ms = 2'000;
      workers.push_back(std::make_unique<Worker>(ctx, clock, log, wo, runner));
      threads.emplace_back([wk = workers.back().get()] { (void)wk->Run(); });
    }
    (void)coord.Run();
    o = rec.Finish(start, f.calls);
    for (auto& w : workers) w->Stop();
    for (auto& t : threads) t.join();
  }
  std::filesystem::remove_all(dir);
  return o;
}

// Ok calls per second finishing between from_ms and to_ms.
double RateBetween(const std::vector<int64_t>& t, int64_t from_ms, int64_t to_ms) {
  if (to_ms <= from_ms) return 0;
  const auto n =
      std::upper_bound(t.begin(), t.end(), to_ms) - std::lower_bound(t.begin(), t.end(), from_ms);
  return static_cast<double>(n) * 1000.0 / static_cast<double>(to_ms - from_ms);
}

// Steady ok calls/s: from 20 % to 90 % of the run's wall time; after a limit change, from 3 s
// after it to 90 % of the wall time.
double SteadyRate(const Outcome& o) {
  const auto at = [&](double fraction) {
    return o.start_ms + static_cast<int64_t>(fraction * o.wall_s * 1000.0);
  };
  const int64_t from = o.halved_at_ms == 0 ? at(0.2) : o.halved_at_ms + 3'000;
  return RateBetween(o.ok_ms, from, at(0.9));
}

void Report(const Scenario& sc, const char* mode, const Outcome& o, const nlohmann::json& s,
            double binding_per_s) {
  const double ok = s.value("ok", 0.0), req = s.value("requests", 0.0);
  const double rl = s.value("rate_limited", 0.0);
  const double steady = SteadyRate(o);
  std::printf("%-24s %-24s %6.0f %6lld %7.0f %7.0f %6.2f%% %6.1f s %7.1f %6.1f%%\n", sc.name, mode,
              ok, static_cast<long long>(o.failed), req, rl, req > 0 ? 100 * rl / req : 0, o.wall_s,
              steady, 100 * steady / binding_per_s);
  std::fflush(stdout);
}

void Compare(const Flags& f, const Scenario& sc, int index) {
  const int64_t halve_after = sc.halve ? f.calls * 2 / 5 : 0;
  for (int mode = 0; mode < 2; ++mode) {
    FakeLlm llm(f, sc);
    if (llm.port() == 0) {
      std::fprintf(stderr, "fakellm did not start (%s)\n", f.fakellm.c_str());
      return;
    }
    const int tag = index * 10 + mode;
    Recorder rec(llm, halve_after, f.rpm / 2);
    Outcome o = mode == 0 ? RunCodesweep(llm, f, sc, rec, tag) : RunBaseline(llm, f, sc, rec, tag);
    const double binding = (sc.halve ? f.rpm / 2 : f.rpm) / 60.0;  // calls/s the provider allows
    Report(sc, mode == 0 ? "codesweep (cluster)" : "per-worker 1/4 + retry", o, llm.Stats(),
           binding);
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
    if (a == "--count-rejected") f.count_rejected = std::atoi(argv[i + 1]) != 0;
    if (a == "--baseline-deadline-s") f.baseline_deadline_s = std::atoll(argv[i + 1]);
    if (a == "--fakellm") f.fakellm = argv[i + 1];
    if (a == "--client-burst-ms") f.client_burst_ms = std::atoll(argv[i + 1]);
  }
  std::printf(
      "fakellm: rpm %.0f, 1 s burst, 429s %s against the budget; %d calls per run; 4 workers;"
      " client buckets' burst %lld ms\n"
      "util. = steady ok calls/s / binding limit\n\n%-24s %-24s %6s %6s %7s %7s %7s %8s %7s "
      "%7s\n",
      f.rpm, f.count_rejected ? "count" : "do not count", f.calls,
      static_cast<long long>(f.client_burst_ms), "scenario", "mode", "ok", "failed", "requests",
      "429s", "429 %", "wall", "ok/s", "util.");
  const std::vector<codesweep::Scenario> scenarios = {
      {.name = "steady 4x64, 20 ms"},
      {.name = "halved at 40%, 20 ms", .halve = true},
      {.name = "64/64/16/8 slots, 1 s",
       .latency_ms = 1'000,
       .jitter_ms = 200,
       .slots = {64, 64, 16, 8}},
  };
  for (size_t i = 0; i < scenarios.size(); ++i) {
    codesweep::Compare(f, scenarios[i], static_cast<int>(i));
  }
  std::printf("\n");
  codesweep::GrantOverhead(f);
  return 0;
}
