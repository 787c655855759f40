// bench_loadgen: one coordinator at cluster scale (issue 16, section 6). The real coordinator runs
// in this process (SQLite store, call cache on, the cluster rate limiter configured from the
// sweep's model limits); a forked load generator plays --workers workers of --slots slots each
// over tcp loopback, speaking the real wire protocol with the project's codec and channels
// (schema/codec, transport/wire): HELLO, CREDIT (slots + slots/4 prefetch, topped up as a real
// worker does), CALL per job, the simulated LLM latency after the GRANT, then CALL_RESULT, RESULT
// and HEARTBEAT{inflight} every hb_ms. After a warm-up it measures a window: cells/s and grants/s,
// the coordinator's CPU (this process: loop thread and zmq I/O threads), its resident memory, and
// the GRANT latency the workers see (CALL sent -> GRANT received), p50/p99.
// Usage: bench_loadgen [--workers W] [--slots S] [--latency-ms L] [--seconds D] [--warmup-s U]
//                      [--rpm R] [--repeat-pct P] [--sync full|normal]
// --rpm: the model's requests-per-minute limit (default 100x the offered load: in the path, not
// binding). --repeat-pct: share of calls that repeat an earlier call key (answered from the cache).
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
#include <map>
#include <queue>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "base/hash.h"
#include "coordinator/coordinator.h"
#include "coordinator/store/store.h"
#include "schema/codec.h"
#include "tools/bench/bench_cells.h"
#include "tools/bench/proc_stats.h"
#include "transport/wire.h"

namespace cs = codesweep;
using Clock = std::chrono::steady_clock;

namespace {

struct Args {
  int workers = 100;
  int slots = 64;
  int latency_ms = 1'000;
  int seconds = 15;
  int warmup_s = 4;
  double rpm = 0;  // 0 = 100 x the offered load
  int repeat_pct = 0;
  bool sync_full = true;
};

Args Parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i], v = argv[i + 1];
    if (k == "--workers") a.workers = std::max(1, std::atoi(v.c_str()));
    if (k == "--slots") a.slots = std::max(1, std::atoi(v.c_str()));
    if (k == "--latency-ms") a.latency_ms = std::max(0, std::atoi(v.c_str()));
    if (k == "--seconds") a.seconds = std::max(1, std::atoi(v.c_str()));
    if (k == "--warmup-s") a.warmup_s = std::max(0, std::atoi(v.c_str()));
    if (k == "--rpm") a.rpm = std::atof(v.c_str());
    if (k == "--repeat-pct") a.repeat_pct = std::clamp(std::atoi(v.c_str()), 0, 100);
    if (k == "--sync") a.sync_full = v != "normal";
  }
  return a;
}

double OfferedPerSecond(const Args& a) {
  return static_cast<double>(a.workers) * a.slots * 1000.0 / std::max(a.latency_ms, 1);
}

int64_t JobsNeeded(const Args& a) {
  return static_cast<int64_t>(OfferedPerSecond(a) * (a.warmup_s + a.seconds + 3) * 1.2) + 1'000;
}

// ---- the load generator (child process) ----

// What a simulated slot does with its job.
struct Running {
  int64_t job = 0, lease = 0;
  int attempt = 0;
  std::string call_key;
  Clock::time_point call_sent{};
};

struct SimWorker {
  std::unique_ptr<cs::Channel> ch;
  std::string id;
  bool welcomed = false;
  int hb_ms = 1000;
  int outstanding = 0;  // credit announced and not yet answered by a JOB
  int free_slots = 0;
  std::deque<cs::JobMsg> queue;
  std::unordered_map<std::string, Running> calling;  // call key -> slot waiting for its GRANT
  std::map<int64_t, Running> running;                // job -> slot (granted or calling)
  Clock::time_point last_send{};
};

struct Due {
  Clock::time_point at;
  int worker;
  int64_t job;
  bool operator>(const Due& o) const { return at > o.at; }
};

struct GenStats {
  int64_t grants = 0, cached_grants = 0, results = 0, acks = 0, jobs = 0, calls = 0;
  std::vector<double> grant_us;  // CALL sent -> GRANT received, microseconds
};

class LoadGen {
 public:
  LoadGen(const Args& a, const std::string& endpoint) : a_(a), endpoint_(endpoint) {}

  int Run(int out_fd) {
    cs::WireContext ctx;
    workers_.resize(static_cast<size_t>(a_.workers));
    for (int i = 0; i < a_.workers; ++i) {
      SimWorker& w = workers_[i];
      w.id = "lg-" + std::to_string(i);
      w.free_slots = a_.slots;
      cs::ChannelOptions o;
      o.identity = w.id;
      auto ch = cs::Channel::Connect(ctx, cs::Channel::Kind::kDealer, endpoint_, o);
      if (!ch.ok()) return 1;
      w.ch = std::move(*ch);
      cs::HelloMsg h;
      h.worker_id = w.id;
      h.host = "loadgen";
      h.pid = getpid();
      h.slots = a_.slots;
      Send(w, h);
    }
    std::vector<cs::Channel*> chans;
    for (SimWorker& w : workers_) chans.push_back(w.ch.get());
    const auto start = Clock::now();
    const auto window_start = start + std::chrono::seconds(a_.warmup_s);
    const auto window_end = window_start + std::chrono::seconds(a_.seconds);
    GenStats at_start;
    bool in_window = false;
    std::vector<bool> ready;
    cs::Envelope env;
    while (Clock::now() < window_end) {
      auto now = Clock::now();
      if (!in_window && now >= window_start) {
        in_window = true;
        at_start = stats_;
        stats_.grant_us.clear();
        cpu0_ = codesweep::bench::ProcCpuSeconds(getpid());
      }
      int64_t wait_ms = 10;
      if (!due_.empty()) {
        wait_ms = std::clamp<int64_t>(
            std::chrono::duration_cast<std::chrono::milliseconds>(due_.top().at - now).count(), 0,
            10);
      }
      auto n = cs::Poll(chans, std::chrono::milliseconds(wait_ms), &ready);
      if (!n.ok()) return 1;
      for (size_t i = 0; i < workers_.size(); ++i) {
        if (!ready[i]) continue;
        for (int k = 0; k < 256; ++k) {
          auto got = workers_[i].ch->Recv(&env);
          if (!got.ok() || !*got) break;
          OnFrame(static_cast<int>(i), env.frame);
        }
      }
      now = Clock::now();
      while (!due_.empty() && due_.top().at <= now) {
        Due d = due_.top();
        due_.pop();
        Finish(d.worker, d.job);
      }
      for (size_t i = 0; i < workers_.size(); ++i) Pump(static_cast<int>(i), now);
    }
    const double wall = a_.seconds;
    const double cpu = codesweep::bench::ProcCpuSeconds(getpid()) - cpu0_;
    std::vector<double>& g = stats_.grant_us;
    std::sort(g.begin(), g.end());
    auto pct = [&](double p) {
      return g.empty() ? 0.0 : g[std::min(g.size() - 1, static_cast<size_t>(p * g.size()))];
    };
    char buf[512];
    int len = std::snprintf(
        buf, sizeof(buf), "%.1f %.1f %.1f %.1f %.1f %.3f %lld %.1f\n",
        static_cast<double>(stats_.results - at_start.results) / wall,
        static_cast<double>(stats_.grants - at_start.grants) / wall,
        static_cast<double>(stats_.cached_grants - at_start.cached_grants) / wall, pct(0.5),
        pct(0.99), cpu / wall, static_cast<long long>(g.size()), pct(0.999));
    (void)!write(out_fd, buf, static_cast<size_t>(len));
    for (SimWorker& w : workers_) Send(w, cs::ByeMsg{});
    return 0;
  }

 private:
  void Send(SimWorker& w, const cs::Message& m) {
    (void)w.ch->Send(cs::Encode(m));
    w.last_send = Clock::now();
  }

  void OnFrame(int wi, const std::string& frame) {
    SimWorker& w = workers_[wi];
    auto m = cs::Decode(frame);
    if (!m.ok()) return;
    if (auto* wel = std::get_if<cs::WelcomeMsg>(&*m)) {
      w.welcomed = true;
      w.hb_ms = std::max(wel->hb_ms, 10);
      w.outstanding = 0;
    } else if (auto* job = std::get_if<cs::JobMsg>(&*m)) {
      w.outstanding = std::max(w.outstanding - 1, 0);
      ++stats_.jobs;
      w.queue.push_back(std::move(*job));
    } else if (auto* grant = std::get_if<cs::GrantMsg>(&*m)) {
      auto it = w.calling.find(grant->call_key);
      if (it == w.calling.end()) return;
      const Running r = it->second;
      w.calling.erase(it);
      const auto now = Clock::now();
      stats_.grant_us.push_back(
          std::chrono::duration<double, std::micro>(now - r.call_sent).count());
      ++stats_.grants;
      if (grant->cached) {
        ++stats_.cached_grants;
        due_.push({now, wi, r.job});
      } else {
        due_.push({now + std::chrono::milliseconds(a_.latency_ms), wi, r.job});
      }
    } else if (std::holds_alternative<cs::AckMsg>(*m)) {
      ++stats_.acks;
    } else if (auto* cancel = std::get_if<cs::CancelMsg>(&*m)) {
      std::erase_if(w.queue, [&](const cs::JobMsg& j) { return j.lease == cancel->lease; });
    } else if (std::holds_alternative<cs::ResetMsg>(*m)) {
      w.welcomed = false;
      cs::HelloMsg h;
      h.worker_id = w.id;
      h.slots = a_.slots;
      Send(w, h);
    }
  }

  // Starts queued jobs on free slots (each makes its CALL), tops up credit, sends heartbeats.
  void Pump(int wi, Clock::time_point now) {
    SimWorker& w = workers_[wi];
    if (!w.welcomed) return;
    while (w.free_slots > 0 && !w.queue.empty()) {
      cs::JobMsg job = std::move(w.queue.front());
      w.queue.pop_front();
      --w.free_slots;
      Running r;
      r.job = job.spec.job.value();
      r.lease = job.lease;
      r.attempt = job.attempt;
      // A unique call per job, except --repeat-pct of them repeat a call made before.
      int64_t key_of = r.job;
      if (a_.repeat_pct > 0 && r.job % 100 < a_.repeat_pct && r.job > 1'000) key_of = r.job % 1'000;
      r.call_key = cs::Sha256Hex("loadgen-call-" + std::to_string(key_of));
      r.call_sent = Clock::now();
      cs::CallMsg c{r.job, r.lease, r.call_key, "openai", "bench", "", 120};
      w.running[r.job] = r;
      w.calling[r.call_key] = r;
      ++stats_.calls;
      Send(w, c);
    }
    const int capacity = a_.slots + std::max(1, a_.slots / 4);
    const int want = capacity - static_cast<int>(w.running.size() + w.queue.size()) - w.outstanding;
    if (want > 0) {
      w.outstanding += want;
      Send(w, cs::CreditMsg{want});
    }
    if (now - w.last_send >= std::chrono::milliseconds(w.hb_ms)) {
      cs::HeartbeatMsg hb;
      for (const auto& [job, r] : w.running) hb.inflight.push_back({job, r.lease});
      Send(w, hb);
    }
  }

  // The simulated call returned: CALL_RESULT, then the cell's RESULT, as a real worker sends them.
  void Finish(int wi, int64_t job) {
    SimWorker& w = workers_[wi];
    auto it = w.running.find(job);
    if (it == w.running.end()) return;
    const Running r = it->second;
    w.running.erase(it);
    ++w.free_slots;
    static const std::string kResponse =
        R"({"text":"The answer is <<<42>>>.","finish_reason":"stop","usage":{"input_tokens":95,)"
        R"("output_tokens":12}})";
    static const std::string kRequest =
        R"({"model":"bench","messages":[{"role":"user","content":"What is 6 times 7? Put the )"
        R"(final answer between <<< and >>>."}],"temperature":0,"max_tokens":64})";
    cs::CallResultMsg cr;
    cr.job = r.job;
    cr.lease = r.lease;
    cr.call_key = r.call_key;
    cr.provider = "openai";
    cr.model = "bench";
    cr.ok = true;
    cr.response_json = kResponse;
    cr.tokens_in = 95;
    cr.tokens_out = 12;
    cr.latency_ms = a_.latency_ms;
    cr.http_status = 200;
    Send(w, cr);
    cs::Outcome o;
    o.final_answer = "42";
    o.correct = true;
    o.score = 1;
    o.turns_used = 1;
    o.tokens_in = 95;
    o.tokens_out = 12;
    o.wall_ms = a_.latency_ms;
    cs::CallRecord call;
    call.call_key = r.call_key;
    call.request_json = kRequest;
    call.response_json = kResponse;
    call.tokens_in = 95;
    call.tokens_out = 12;
    call.latency_ms = a_.latency_ms;
    call.http_status = 200;
    o.calls.push_back(std::move(call));
    Send(w, cs::ResultMsg{r.job, r.lease, r.attempt, std::move(o)});
    ++stats_.results;
  }

  Args a_;
  std::string endpoint_;
  std::vector<SimWorker> workers_;
  std::priority_queue<Due, std::vector<Due>, std::greater<>> due_;
  GenStats stats_;
  double cpu0_ = 0;
};

// ---- the coordinator side (this process) ----

cs::Status Fill(cs::Store& store, const Args& a, int64_t jobs) {
  const double rpm = a.rpm > 0 ? a.rpm : OfferedPerSecond(a) * 60 * 100;
  const std::string config = R"({"models":[{"id":"openai:bench","limits":{"rpm":)" +
                             std::to_string(rpm) + R"(,"max_concurrency":)" +
                             std::to_string(a.workers * a.slots * 4) + "}}]}";
  CS_ASSIGN_OR_RETURN(int64_t sweep, store.UpsertSweep({"loadgen", 1, 3, "", "", config}));
  cs::VariantRecord v;
  v.model = {"openai:bench", "openai", "bench",
             R"({"api_key_env":"","base_url":"http://127.0.0.1:9/v1"})"};
  CS_ASSIGN_OR_RETURN(int64_t variant, store.UpsertVariant(v));
  return cs::bench::LoadBenchCells(store, sweep, variant, jobs);
}

int64_t RssKiB(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("VmRSS:", 0) == 0) return std::atoll(line.c_str() + 6);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const Args a = Parse(argc, argv);
  signal(SIGPIPE, SIG_IGN);
  std::array<int, 2> to_child{}, from_child{};
  if (pipe(to_child.data()) != 0 || pipe(from_child.data()) != 0) return 1;
  const pid_t kid = fork();  // before any zmq or SQLite state exists here
  if (kid == 0) {
    char buf[128] = {0};
    if (read(to_child[0], buf, sizeof(buf) - 1) <= 0) _exit(1);
    LoadGen gen(a, std::string(buf));
    _exit(gen.Run(from_child[1]));
  }
  close(from_child[1]);
  const int64_t jobs = JobsNeeded(a);
  const std::string dir =
      std::filesystem::temp_directory_path() / ("bench_loadgen_" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  cs::StoreOptions so;
  so.synchronous_full = a.sync_full;
  auto store = cs::Store::Open(dir + "/bench.db", so);
  if (!store.ok()) return 1;
  if (cs::Status s = Fill(**store, a, jobs); !s.ok()) {
    std::fprintf(stderr, "fill: %s\n", s.ToString().c_str());
    return 1;
  }
  cs::SystemClock clock;
  cs::Logger log(stderr, cs::LogLevel::kWarn);
  cs::WireContext ctx;
  cs::CoordinatorLoopOptions lo;
  lo.progress_interval_ms = 50;
  std::atomic<int64_t> completed{0};
  lo.on_progress = [&](const cs::Progress& p) { completed.store(p.completed_here); };
  cs::Coordinator coord(**store, ctx, clock, log, lo);
  if (!coord.Bind("tcp://127.0.0.1:0").ok()) return 1;
  const std::string ep = coord.endpoint();
  (void)!write(to_child[1], ep.data(), ep.size());
  close(to_child[1]);

  std::thread measure([&] {
    std::this_thread::sleep_for(std::chrono::seconds(a.warmup_s));
    const double cpu0 = codesweep::bench::ProcCpuSeconds(getpid());
    const int64_t done0 = completed.load();
    const auto t0 = Clock::now();
    int64_t rss_max = 0;
    while (Clock::now() - t0 < std::chrono::seconds(a.seconds)) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      rss_max = std::max(rss_max, RssKiB(getpid()));
    }
    const double wall = std::chrono::duration<double>(Clock::now() - t0).count();
    const double cpu = (codesweep::bench::ProcCpuSeconds(getpid()) - cpu0) / wall;
    const double cells = static_cast<double>(completed.load() - done0) / wall;
    char buf[512] = {0};
    pollfd p{from_child[0], POLLIN, 0};
    ssize_t n = 0;
    if (poll(&p, 1, 30'000) > 0) n = read(from_child[0], buf, sizeof(buf) - 1);
    double lg_cells = 0, grants = 0, cached = 0, p50 = 0, p99 = 0, lg_cpu = 0, p999 = 0;
    long long samples = 0;
    if (n > 0) {
      std::sscanf(buf, "%lf %lf %lf %lf %lf %lf %lld %lf", &lg_cells, &grants, &cached, &p50, &p99,
                  &lg_cpu, &samples, &p999);
    }
    std::printf(
        "bench_loadgen: workers=%d slots=%d (in flight offered %d) latency=%d ms "
        "window=%.1f s sync=%s repeat=%d%%\n",
        a.workers, a.slots, a.workers * a.slots, a.latency_ms, wall,
        a.sync_full ? "full" : "normal", a.repeat_pct);
    std::printf(
        "  offered %.0f cells/s; coordinator accepted %.0f cells/s, granted %.0f calls/s "
        "(%.0f of them from the cache)\n",
        OfferedPerSecond(a), cells, grants, cached);
    std::printf(
        "  coordinator cpu %.3f cores = %.3f cores per 1,000 cells/s, %.3f per 1,000 "
        "grants/s; rss max %.1f MiB\n",
        cpu, cells > 0 ? cpu * 1000 / cells : 0, grants > 0 ? cpu * 1000 / grants : 0,
        static_cast<double>(rss_max) / 1024);
    std::printf(
        "  GRANT latency (CALL sent -> GRANT received, %lld samples): p50 %.2f ms, "
        "p99 %.2f ms, p99.9 %.2f ms; load generator cpu %.3f cores\n",
        samples, p50 / 1000, p99 / 1000, p999 / 1000, lg_cpu);
    std::fflush(stdout);
    coord.Stop();
  });
  cs::Status s = coord.Run();
  measure.join();
  kill(kid, SIGTERM);
  waitpid(kid, nullptr, 0);
  std::filesystem::remove_all(dir);
  if (!s.ok()) std::fprintf(stderr, "coordinator: %s\n", s.ToString().c_str());
  return s.ok() ? 0 : 1;
}
