// bench_dispatch: dispatch + durable completion throughput of the engine. A coordinator (this
// process) and 2 worker processes over tcp loopback run N jobs with a no-op runner (or the
// zero-latency text-only sim via --runner sim); prints jobs/s from first dispatch to the last
// durable (committed, ACKed) result, and the coordinator's resident memory (sampled every 20 ms)
// with all N jobs pending and while it dispatches them.
// Usage: bench_dispatch [--jobs N] [--slots S] [--runner R]
#include <malloc.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "coordinator/coordinator.h"
#include "coordinator/store/store.h"
#include "worker/runtime.h"
#include "worker/worker.h"

namespace cs = codesweep;

namespace {

struct Args {
  int64_t jobs = 200'000;
  int slots = 64;
  std::string runner = "noop";
  bool sync_full = true;
};

Args Parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i], v = argv[i + 1];
    if (k == "--jobs") a.jobs = std::atoll(v.c_str());
    if (k == "--slots") a.slots = std::atoi(v.c_str());
    if (k == "--runner") a.runner = v;
    if (k == "--sync") a.sync_full = v != "normal";
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
  if (a.runner == "sim") {
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
  wo.prefetch = a.slots;
  wo.drain_timeout_ms = 1000;
  cs::Worker worker(ctx, clock, log, wo, runner);
  signals.set_handler([&](int) { worker.Stop(); });
  return worker.Run().ok() ? 0 : 1;
}

cs::Status Fill(cs::Store& store, int64_t jobs) {
  CS_ASSIGN_OR_RETURN(int64_t sweep, store.UpsertSweep({"bench", 1, 3, "", "", "{}"}));
  cs::VariantRecord v;
  v.model = {"sim:bench", "sim", "bench", R"({"p_code":0})"};
  CS_ASSIGN_OR_RETURN(int64_t variant, store.UpsertVariant(v));
  std::vector<cs::CellRow> cells;
  CS_RETURN_IF_ERROR(store.BeginCellLoad());
  for (int64_t i = 0; i < jobs; ++i) {
    cells.push_back({cs::CellKey(cs::Sha256Hex(std::to_string(i))), "number_multiply", "1_2", i,
                     variant, "only_question", 1});
    if (cells.size() == 50'000 || i + 1 == jobs) {
      CS_ASSIGN_OR_RETURN(int64_t n, store.InsertCells(sweep, cells));
      (void)n;
      cells.clear();
    }
  }
  CS_RETURN_IF_ERROR(store.FinishCellLoad().status());
  return store.Commit();
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

}  // namespace

int main(int argc, char** argv) {
  Args a = Parse(argc, argv);
  int fds[2][2];
  pid_t kids[2];
  for (int i = 0; i < 2; ++i) {
    if (pipe(fds[i]) != 0) return 1;
    kids[i] = fork();
    if (kids[i] == 0) _exit(WorkerChild(fds[i][0], a, i));
  }
  std::string dir =
      std::filesystem::temp_directory_path() / ("bench_dispatch_" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  cs::StoreOptions so;
  so.synchronous_full = a.sync_full;
  auto store = cs::Store::Open(dir + "/bench.db", so);
  if (!store.ok()) return 1;
  if (!Fill(**store, a.jobs).ok()) return 1;
  cs::SystemClock clock;
  cs::Logger log(stderr, cs::LogLevel::kWarn);
  cs::WireContext ctx;
  cs::CoordinatorLoopOptions lo;
  lo.core.exit_when_done = true;
  cs::Coordinator coord(**store, ctx, clock, log, lo);
  if (!coord.Bind("tcp://127.0.0.1:0").ok()) return 1;
  std::string ep = coord.endpoint() + "\n";
  malloc_trim(0);
  const double rss_before = RssMiB();
  RssSampler sampler;
  auto start = std::chrono::steady_clock::now();
  for (auto& fd : fds) (void)!write(fd[1], ep.data(), ep.size());
  cs::Status s = coord.Run();
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  sampler.Stop();
  for (pid_t k : kids) kill(k, SIGTERM);
  for (pid_t k : kids) waitpid(k, nullptr, 0);
  cs::Progress p = coord.progress();
  std::printf("bench_dispatch: runner=%s jobs=%lld slots/worker=%d workers=2 sync=%s\n",
              a.runner.c_str(), static_cast<long long>(p.completed_here), a.slots,
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
