// bench_dispatch: dispatch + durable completion throughput of the engine. A coordinator (this
// process) and 2 worker processes over tcp loopback run N jobs with a no-op runner (or the
// zero-latency text-only sim via --runner sim); prints jobs/s from first dispatch to the last
// durable (committed, ACKed) result, and the coordinator's resident memory (sampled every 20 ms)
// with all N jobs pending and while it dispatches them.
// --runner llm: many LLM calls in flight per worker (issue 16, section 5). fakellm is started as a
// child with --latency-ms; every job is a real number_multiply/only_question cell of an
// OpenAI-compatible model pointed at it, run by the production runner (metered client: CALL,
// GRANT, HTTP, CALL_RESULT) in --workers worker processes of --slots slots each (fibers on
// --slot-threads carriers). After a warm-up (the first completed call, then latency + 2 s) it
// measures --seconds: completed calls/s, each worker's CPU (cores), resident
// memory, threads and open files, then stops.
// Usage: bench_dispatch [--jobs N] [--slots S] [--runner noop|sim|llm] [--workers W]
//                       [--latency-ms L] [--seconds D] [--fakellm PATH] [--sync full|normal]
//                       [--slot-threads T] [--coordinator real|stub]
// --coordinator stub (with --runner llm): a stub in place of the coordinator (no store, every
// CALL granted at once) to measure the worker alone.
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "base/hash.h"
#include "coordinator/coordinator.h"
#include "coordinator/store/store.h"
#include "schema/codec.h"
#include "tools/bench/bench_cells.h"
#include "tools/bench/proc_stats.h"
#include "worker/runtime.h"
#include "worker/worker.h"

namespace cs = codesweep;

namespace {

struct Args {
  int64_t jobs = 200'000;
  int slots = 64;
  std::string runner = "noop";
  bool sync_full = true;
  int workers = 2;
  int latency_ms = 5'000;
  int seconds = 20;
  std::string fakellm;
  int fakellm_port = 0;
  int slot_threads = 256;
  bool stub = false;  // --coordinator stub
};

Args Parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i], v = argv[i + 1];
    if (k == "--jobs") a.jobs = std::atoll(v.c_str());
    if (k == "--slots") a.slots = std::atoi(v.c_str());
    if (k == "--runner") a.runner = v;
    if (k == "--sync") a.sync_full = v != "normal";
    if (k == "--workers") a.workers = std::max(1, std::atoi(v.c_str()));
    if (k == "--latency-ms") a.latency_ms = std::atoi(v.c_str());
    if (k == "--seconds") a.seconds = std::atoi(v.c_str());
    if (k == "--fakellm") a.fakellm = v;
    if (k == "--slot-threads") a.slot_threads = std::atoi(v.c_str());
    if (k == "--coordinator") a.stub = v == "stub";
  }
  return a;
}

int WorkerChild(int read_fd, const Args& a, int index) {
  char buf[128] = {0};
  if (read(read_fd, buf, sizeof(buf) - 1) <= 0) return 1;
  std::string endpoint(buf);
  cs::Logger log(stderr, cs::LogLevel::kWarn);
  cs::JobRunner runner = [](const cs::JobSpec&, cs::CallGate&) {
    cs::Outcome o;
    o.correct = true;
    o.final_answer = "<<<1>>>";
    return o;
  };
  std::unique_ptr<cs::JobRuntime> rt;
  if (a.runner == "sim" || a.runner == "llm") {
    auto r = cs::JobRuntime::Create({}, log);
    if (!r.ok()) return 1;
    rt = std::move(*r);
    runner = rt->runner();
  }
  cs::SignalWatcher signals(nullptr);  // before any zmq thread exists
  cs::SystemClock clock;
  cs::WireContext ctx;
  cs::WorkerOptions wo;
  wo.connect = endpoint.substr(0, endpoint.find('\n'));
  wo.worker_id = "bench-" + std::to_string(index);
  wo.slots = a.slots;
  wo.slot_threads = a.slot_threads;
  wo.prefetch = a.runner == "llm" ? -1 : a.slots;
  wo.drain_timeout_ms = 1000;
  cs::Worker worker(ctx, clock, log, wo, runner);
  signals.set_handler([&](int) { worker.Stop(); });
  return worker.Run().ok() ? 0 : 1;
}

cs::Status Fill(cs::Store& store, const Args& a) {
  const int64_t jobs = a.jobs;
  CS_ASSIGN_OR_RETURN(int64_t sweep, store.UpsertSweep({"bench", 1, 3, "", "", "{}"}));
  cs::VariantRecord v;
  v.model = {"sim:bench", "sim", "bench", R"({"p_code":0})"};
  if (a.runner == "llm") {
    const std::string base = "http://127.0.0.1:" + std::to_string(a.fakellm_port) + "/v1";
    v.model = {"openai:bench", "openai", "bench",
               R"({"api_key_env":"","base_url":")" + base + R"(","timeout_ms":600000})"};
  }
  CS_ASSIGN_OR_RETURN(int64_t variant, store.UpsertVariant(v));
  return cs::bench::LoadBenchCells(store, sweep, variant, jobs);
}

// Resident memory of this process in MiB (VmRSS).
double RssMiB() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::atof(line.c_str() + 6) / 1024;
  }
  return 0;
}

// Samples this process's resident memory every 20 ms until stopped; keeps the maximum.
class RssSampler {
 public:
  RssSampler()
      : thread_([this] {
          while (!stop_.load()) {
            double now = RssMiB();
            if (now > max_.load()) max_.store(now);
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
          }
        }) {}
  ~RssSampler() { Stop(); }
  void Stop() {
    stop_.store(true);
    if (thread_.joinable()) thread_.join();
  }
  double max() const { return max_.load(); }

 private:
  std::atomic<bool> stop_{false};
  std::atomic<double> max_{0};
  std::thread thread_;
};

// fakellm sits in the build directory, one level above bench/.
std::string FakeLlmPath() {
  char self[4096] = {0};
  const ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
  std::string dir = n > 0 ? std::string(self, static_cast<size_t>(n)) : std::string(".");
  dir = dir.substr(0, dir.rfind('/'));
  return dir.substr(0, dir.rfind('/')) + "/fakellm";
}

// Starts fakellm (its own process group) and reads the port it prints; 0 on failure.
int StartFakeLlm(const std::string& path, int latency_ms, pid_t* pid) {
  int out[2];
  if (pipe(out) != 0) return 0;
  *pid = fork();
  if (*pid == 0) {
    setpgid(0, 0);
    dup2(out[1], 1);
    std::vector<std::string> args = {path, "--port", "0", "--latency-ms",
                                     std::to_string(latency_ms)};
    std::vector<char*> argv;
    for (std::string& s : args) argv.push_back(s.data());
    argv.push_back(nullptr);
    execv(path.c_str(), argv.data());
    _exit(127);
  }
  close(out[1]);
  char buf[32] = {0};
  pollfd p{out[0], POLLIN, 0};
  int port = 0;
  if (poll(&p, 1, 20'000) > 0 && read(out[0], buf, sizeof(buf) - 1) > 0) port = std::atoi(buf);
  close(out[0]);
  return port;
}

// A numeric field of /proc/PID/status ("VmRSS", "Threads"), or 0.
int64_t ProcStatus(pid_t pid, const std::string& field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(field + ":", 0) == 0) return std::atoll(line.c_str() + field.size() + 1);
  }
  return 0;
}

int64_t ProcOpenFiles(pid_t pid) {
  std::error_code ec;
  int64_t n = 0;
  for (auto it = std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd", ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    ++n;
  }
  return n;
}

// --runner llm: waits for the warm-up (the first completed call, then the latency + 2 s, so every
// slot has had its first call out and back), measures the window, then stops the coordinator.
void MeasureInflight(const Args& a, const std::vector<pid_t>& kids, pid_t fake,
                     const std::atomic<int64_t>& completed, const std::atomic<int64_t>& failed,
                     const std::function<void()>& stop) {
  const auto started = std::chrono::steady_clock::now();
  while (completed.load() == 0 &&
         std::chrono::steady_clock::now() - started < std::chrono::seconds(120)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  const double first_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::this_thread::sleep_for(std::chrono::milliseconds(a.latency_ms + 2'000));
  std::vector<double> cpu0;
  for (pid_t k : kids) cpu0.push_back(codesweep::bench::ProcCpuSeconds(k));
  const double fake_cpu0 = codesweep::bench::ProcCpuSeconds(fake),
               self_cpu0 = codesweep::bench::ProcCpuSeconds(getpid());
  const int64_t done0 = completed.load(), failed0 = failed.load();
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<int64_t> rss_max(kids.size(), 0), rss_sum(kids.size(), 0);
  int64_t samples = 0;
  while (std::chrono::steady_clock::now() - t0 < std::chrono::seconds(a.seconds)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
    for (size_t i = 0; i < kids.size(); ++i) {
      const int64_t rss = ProcStatus(kids[i], "VmRSS");
      rss_max[i] = std::max(rss_max[i], rss);
      rss_sum[i] += rss;
    }
    ++samples;
  }
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const int64_t done = completed.load() - done0;
  const int64_t failures = failed.load() - failed0;
  const int64_t slots = static_cast<int64_t>(a.slots) * a.workers;
  std::printf(
      "inflight: workers=%d slots/worker=%d slot threads=%d latency=%d ms window=%.1f s "
      "(first call completed %.1f s after start)\n",
      a.workers, a.slots, std::min(a.slots, a.slot_threads), a.latency_ms, wall, first_s);
  std::printf("  completed calls: %lld (%lld of them failed jobs), %.0f calls/s (ideal %.0f/s)\n",
              static_cast<long long>(done), static_cast<long long>(failures),
              static_cast<double>(done) / wall, static_cast<double>(slots) * 1000.0 / a.latency_ms);
  for (size_t i = 0; i < kids.size(); ++i) {
    const double rss_avg = static_cast<double>(rss_sum[i]) / static_cast<double>(samples);
    std::printf(
        "  worker %zu: cpu %.3f cores, rss avg %.1f MiB max %.1f MiB = %.1f KB per slot, "
        "threads %lld, open files %lld\n",
        i, (codesweep::bench::ProcCpuSeconds(kids[i]) - cpu0[i]) / wall, rss_avg / 1024,
        static_cast<double>(rss_max[i]) / 1024, static_cast<double>(rss_max[i]) / a.slots,
        static_cast<long long>(ProcStatus(kids[i], "Threads")),
        static_cast<long long>(ProcOpenFiles(kids[i])));
  }
  std::printf("  fakellm cpu %.3f cores, rss %.1f MiB; coordinator cpu %.3f cores\n",
              (codesweep::bench::ProcCpuSeconds(fake) - fake_cpu0) / wall,
              static_cast<double>(ProcStatus(fake, "VmRSS")) / 1024,
              (codesweep::bench::ProcCpuSeconds(getpid()) - self_cpu0) / wall);
  std::fflush(stdout);
  stop();
}

// --coordinator stub: the worker's side of the wire without the coordinator's store, to measure
// the worker alone: every CREDIT gets JOBs built in memory (the same cell, new sample), every
// CALL its GRANT at once, every RESULT its ACK; a heartbeat each second.
class StubCoordinator {
 public:
  StubCoordinator(cs::WireContext& ctx, const Args& a) {
    router_ = std::move(
        cs::Channel::Bind(ctx, cs::Channel::Kind::kRouter, "tcp://127.0.0.1:0", {}).value());
    proto_.sweep = "bench";
    proto_.task = "number_multiply";
    proto_.complexity = "1_2";
    proto_.method = "only_question";
    const std::string base = "http://127.0.0.1:" + std::to_string(a.fakellm_port) + "/v1";
    proto_.model = {"openai:bench", "openai", "bench",
                    R"({"api_key_env":"","base_url":")" + base + R"(","timeout_ms":600000})"};
  }
  std::string endpoint() const { return router_->endpoint(); }
  void Stop() { stop_.store(true); }
  std::atomic<int64_t> completed{0}, failed{0};

  void Run() {
    cs::Envelope env;
    auto last_hb = std::chrono::steady_clock::now();
    while (!stop_.load()) {
      cs::Result<bool> got = router_->RecvWait(&env, std::chrono::milliseconds(100));
      while (got.ok() && *got) {
        On(env);
        got = router_->Recv(&env);
      }
      if (std::chrono::steady_clock::now() - last_hb >= std::chrono::seconds(1)) {
        last_hb = std::chrono::steady_clock::now();
        for (const std::string& p : peers_) Send(p, cs::CoordHeartbeatMsg{});
      }
    }
  }

 private:
  void Send(const std::string& peer, const cs::Message& m) {
    (void)router_->Send(peer, cs::Encode(m));
  }
  void On(const cs::Envelope& env) {
    cs::Result<cs::Message> m = cs::Decode(env.frame);
    if (!m.ok()) return;
    if (std::holds_alternative<cs::HelloMsg>(*m)) {
      peers_.push_back(env.peer);
      Send(env.peer, cs::WelcomeMsg{1, 1000, 3, 600'000});
    } else if (auto* c = std::get_if<cs::CreditMsg>(&*m)) {
      for (int i = 0; i < c->n; ++i) {
        cs::JobMsg j;
        j.lease = next_;
        j.attempt = 1;
        j.spec = proto_;
        j.spec.job = cs::JobId(next_);
        j.spec.sample = next_;
        j.spec.cell = cs::CellKey(cs::Sha256Hex(std::to_string(next_)));
        ++next_;
        Send(env.peer, j);
      }
    } else if (auto* call = std::get_if<cs::CallMsg>(&*m)) {
      Send(env.peer, cs::GrantMsg{call->call_key});
    } else if (auto* r = std::get_if<cs::ResultMsg>(&*m)) {
      ++completed;
      if (r->outcome.failed) ++failed;
      Send(env.peer, cs::AckMsg{r->job, r->lease});
    }
  }

  std::unique_ptr<cs::Channel> router_;
  cs::JobSpec proto_;
  std::vector<std::string> peers_;
  int64_t next_ = 1;
  std::atomic<bool> stop_{false};
};

// --coordinator stub: fakellm, the workers and the stub; prints the measured window only.
int RunStub(const Args& a, const std::vector<std::array<int, 2>>& fds,
            const std::vector<pid_t>& kids, pid_t fake) {
  cs::WireContext ctx;
  StubCoordinator stub(ctx, a);
  std::string ep = stub.endpoint() + "\n";
  for (const auto& fd : fds) (void)!write(fd[1], ep.data(), ep.size());
  std::thread measure(
      [&] { MeasureInflight(a, kids, fake, stub.completed, stub.failed, [&] { stub.Stop(); }); });
  stub.Run();
  measure.join();
  for (pid_t k : kids) kill(k, SIGKILL);
  for (pid_t k : kids) waitpid(k, nullptr, 0);
  kill(-fake, SIGTERM);
  waitpid(fake, nullptr, 0);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Args a = Parse(argc, argv);
  signal(SIGPIPE, SIG_IGN);
  const bool llm = a.runner == "llm";
  pid_t fake = -1;
  if (llm) {
    if (a.fakellm.empty()) a.fakellm = FakeLlmPath();
    a.fakellm_port = StartFakeLlm(a.fakellm, a.latency_ms, &fake);
    if (a.fakellm_port == 0) {
      std::fprintf(stderr, "fakellm did not start (%s)\n", a.fakellm.c_str());
      return 1;
    }
  }
  std::vector<std::array<int, 2>> fds(static_cast<size_t>(a.workers));
  std::vector<pid_t> kids(static_cast<size_t>(a.workers));
  for (int i = 0; i < a.workers; ++i) {
    if (pipe(fds[i].data()) != 0) return 1;
    kids[i] = fork();
    if (kids[i] == 0) _exit(WorkerChild(fds[i][0], a, i));
  }
  if (llm && a.stub) return RunStub(a, fds, kids, fake);
  std::string dir =
      std::filesystem::temp_directory_path() / ("bench_dispatch_" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  cs::StoreOptions so;
  so.synchronous_full = a.sync_full;
  auto store = cs::Store::Open(dir + "/bench.db", so);
  if (!store.ok()) return 1;
  cs::Status filled = Fill(**store, a);
  if (!filled.ok()) {
    std::fprintf(stderr, "fill: %s\n", filled.ToString().c_str());
    return 1;
  }
  cs::SystemClock clock;
  cs::Logger log(stderr, cs::LogLevel::kWarn);
  cs::WireContext ctx;
  cs::CoordinatorLoopOptions lo;
  lo.core.exit_when_done = true;
  std::atomic<int64_t> completed{0}, failed{0};
  if (llm) {
    lo.progress_interval_ms = 100;
    lo.core.use_cache = false;  // number_multiply repeats prompts: every job must make its call
    lo.on_progress = [&](const cs::Progress& p) {
      completed.store(p.completed_here);
      failed.store(p.failures);
    };
  }
  cs::Coordinator coord(**store, ctx, clock, log, lo);
  if (!coord.Bind("tcp://127.0.0.1:0").ok()) return 1;
  std::string ep = coord.endpoint() + "\n";
  malloc_trim(0);
  const double rss_before = RssMiB();
  RssSampler sampler;
  auto start = std::chrono::steady_clock::now();
  for (auto& fd : fds) (void)!write(fd[1], ep.data(), ep.size());
  std::thread measure;
  if (llm) {
    measure = std::thread(
        [&] { MeasureInflight(a, kids, fake, completed, failed, [&] { coord.Stop(); }); });
  }
  cs::Status s = coord.Run();
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  sampler.Stop();
  if (measure.joinable()) measure.join();
  for (pid_t k : kids) kill(k, SIGTERM);
  for (pid_t k : kids) waitpid(k, nullptr, 0);
  if (fake > 0) {
    kill(-fake, SIGTERM);
    waitpid(fake, nullptr, 0);
  }
  cs::Progress p = coord.progress();
  std::printf("bench_dispatch: runner=%s jobs=%lld slots/worker=%d workers=%d sync=%s\n",
              a.runner.c_str(), static_cast<long long>(p.completed_here), a.slots, a.workers,
              a.sync_full ? "full" : "normal");
  std::printf("  %.2f s, %.0f jobs/s (dispatch + durable completion, tcp loopback)%s\n", secs,
              static_cast<double>(p.completed_here) / secs, s.ok() ? "" : " [coordinator error]");
  std::printf(
      "  coordinator resident memory: %.1f MiB with %lld pending jobs before dispatch, "
      "at most %.1f MiB while dispatching\n",
      rss_before, static_cast<long long>(a.jobs), sampler.max());
  std::filesystem::remove_all(dir);
  return s.ok() ? 0 : 1;
}
