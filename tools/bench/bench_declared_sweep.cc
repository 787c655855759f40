// Declared tasks end to end (issue 15, docs/tasks.md):
//   1. a sweep whose [[tasks]] declares a 1,000,000-row JSON-lines dataset (samples = "all") is
//      validated (LoadSweepFile reads and checks every row), its grid enumerated (every cell
//      key hashed) and loaded into a fresh SQLite database (ExpandIntoStore); then 20,000 jobs
//      are given their row the way dispatch does (DeclaredCatalog::Fill: one pread each);
//   2. the declared scorer's share of a sim-model cell (RunJob, only_question);
//   3. a Python scorer's verdict in the sandbox's fork-server mode (p50, p90): the whole program
//      per verdict beside a warm server that loaded the scorer once; back to back, and spaced
//      50 ms apart as verdicts come in a sweep (each after a model's reply).
// Medians of 3 runs; peak resident memory of the process.
//   build/bench/bench_declared_sweep [rows]
//   build/bench/bench_declared_sweep python      (step 3 only)
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "coordinator/store/store.h"
#include "coordinator/sweep/declared_tasks.h"
#include "coordinator/sweep/grid.h"
#include "jobs/methods/client_factory.h"
#include "jobs/methods/method.h"
#include "jobs/sandbox/sandbox.h"
#include "jobs/tasks/declared/declared_task.h"

namespace {

using namespace codesweep;  // NOLINT
using BenchClock = std::chrono::steady_clock;

double Seconds(BenchClock::time_point a, BenchClock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

double Percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

// The 1, 5 and 15 minute load averages: the round trip is three processes woken in turn, so a
// loaded machine adds its scheduling delay to every number.
std::string LoadAverage() {
  std::ifstream in("/proc/loadavg");
  std::string one, five, fifteen;
  in >> one >> five >> fifteen;
  return one + " " + five + " " + fifteen + " (" + std::to_string(sysconf(_SC_NPROCESSORS_ONLN)) +
         " cores)";
}

long PeakRssMb() {
  struct rusage ru {};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss / 1024;
}

// Code the sim writes "runs" at no cost and prints nothing: the cell's time is the sim's reply,
// the method and the judging.
class NoExecutor final : public Executor {
 public:
  Result<ExecResult> Run(const ExecRequest&) override { return ExecResult{}; }
};

constexpr const char* kSweep = R"(
name = "bench-declared"
seed = 1
methods = ["only_question"]
[models."sim:default"]
[[tasks]]
name = "adds"
dataset = "rows.jsonl"
id = "{id}"
prompt = """Solve the problem. Give the final answer as <<<number>>>.
{question}"""
target = "{answer}"
answer = ["triple_angle", "last_number"]
scorer = { kind = "numeric", rel_tol = 1e-6 }
samples = "all"
)";

// Python scorer verdicts in the sandbox's fork-server mode, two ways side by side, 3 runs of 200
// verdicts each (after 10 to warm up): the whole program (the scorer's source and the call) run
// in a fork of a plain server, as every verdict ran before warm servers; and the call alone in a
// fork of a warm server that loaded the source once (ExecRequest::prelude), as RunJob runs it now.
int PythonScorerVerdicts() {
  SandboxOptions so;
  so.mode = "forkserver";
  so.preload = {};
  auto sandbox = MakeSandbox(so, Logger::Null());
  if (!sandbox.ok()) {
    std::printf("python scorer: no sandbox here (%s)\n", sandbox.status().ToString().c_str());
    return 0;
  }
  PythonScorer py;
  py.function = "score";
  py.source =
      "def score(answer, row, reply):\n"
      "    return {'correct': float(answer) == float(row['answer']), 'reason': 'compared'}\n";
  nlohmann::json row = {{"question", "What is 2 + 2?"}, {"answer", 4}};
  const ExecRequest whole{PythonScorerProgram(py, "4", row, "It is <<<4>>>"), ExecLimits{}, ""};
  const ExecRequest warm{PythonScorerCall(py, "4", row, "It is <<<4>>>"), ExecLimits{}, py.source};
  std::string tier;
  // gap_ms: the pause before each verdict (0: back to back). In a sweep a slot's verdicts each
  // follow a model's reply, never back to back; a pause lets the server's set-up for the next
  // run happen before it is asked for.
  auto verdicts = [&](const ExecRequest& request, std::vector<double>& ms, int n = 200,
                      int gap_ms = 0) {
    for (int i = 0; i < n + 10; ++i) {
      if (gap_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(gap_ms));
      auto t0 = BenchClock::now();
      Result<ExecResult> r = (*sandbox)->Run(request);
      double took = Seconds(t0, BenchClock::now()) * 1e3;
      if (!r.ok() || !PythonScorerVerdict(ExecStatusName(r->status), *r).correct) {
        std::fprintf(stderr, "python scorer run failed: %s\n",
                     r.ok() ? r->stderr_text.c_str() : r.status().ToString().c_str());
        return false;
      }
      tier = r->tier;
      if (i >= 10) ms.push_back(took);  // the first runs start (and warm) a server
    }
    return true;
  };
  // The floor: a fork-server run of `pass` (no scorer, no verdict), the round trip alone.
  std::vector<double> floor_cpu;  // the child's CPU ms of each `pass` run
  auto floor = [&](std::vector<double>& ms, int n = 200, int gap_ms = 0) {
    for (int i = 0; i < n + 10; ++i) {
      if (gap_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(gap_ms));
      auto t0 = BenchClock::now();
      Result<ExecResult> r = (*sandbox)->Run({"pass\n", ExecLimits{}, ""});
      double took = Seconds(t0, BenchClock::now()) * 1e3;
      if (!r.ok() || r->status != ExecStatus::kOk) return false;
      if (i >= 10) ms.push_back(took);
      if (i >= 10 && gap_ms == 0) floor_cpu.push_back(static_cast<double>(r->cpu_ms));
    }
    return true;
  };
  // What the round trip costs in work rather than time (the same under any load): page faults.
  // On a virtual machine a page fault is a trap into the hypervisor (~15-25 us here), and a fork
  // server pays one for every page that its child or the server itself writes after the fork
  // (copy-on-write). A probe run reads both counts from inside the sandbox: the child's own
  // (/proc/self/stat, up to its print: the fork, the child's set-up, the probe's own compile and
  // reads) and its server's (/proc/PPID/stat), whose growth between two runs is the server's
  // share of one round trip.
  auto faults = [&](double& child, double& server) {
    const ExecRequest probe{
        "import os\n"
        "def _f(path):\n"
        "    s = open(path).read().rsplit(')', 1)[1].split()\n"
        "    return s[7] + ' ' + s[19]\n"
        "print(_f('/proc/self/stat'), _f('/proc/%d/stat' % os.getppid()))\n",
        ExecLimits{}, ""};
    std::vector<double> own, srv;
    long long last_server = -1, last_start = -1;
    for (int i = 0; i < 31; ++i) {
      Result<ExecResult> r = (*sandbox)->Run(probe);
      long long mine = 0, start = 0, server = 0, server_start = 0;
      if (!r.ok() || std::sscanf(r->stdout_text.c_str(), "%lld %lld %lld %lld", &mine, &start,
                                 &server, &server_start) != 4) {
        return false;
      }
      own.push_back(static_cast<double>(mine));
      if (server_start == last_start) srv.push_back(static_cast<double>(server - last_server));
      last_server = server;
      last_start = server_start;
    }
    if (srv.empty()) return false;
    child = Median(own);
    server = Median(srv);
    return true;
  };
  std::printf("load average at the start: %s\n", LoadAverage().c_str());
  std::vector<double> whole_p50, whole_p90, warm_p50, warm_p90, floor_p50;
  std::vector<double> spaced_p50, spaced_p90, spaced_floor_p50;  // 50 ms apart
  constexpr int kGapMs = 50;
  for (int run = 0; run < 3; ++run) {
    std::vector<double> a, b, c, d, e;
    if (!verdicts(whole, a) || !verdicts(warm, b) || !floor(c)) return 1;
    if (!verdicts(warm, d, 100, kGapMs) || !floor(e, 100, kGapMs)) return 1;
    whole_p50.push_back(Percentile(a, 0.5));
    whole_p90.push_back(Percentile(a, 0.9));
    warm_p50.push_back(Percentile(b, 0.5));
    warm_p90.push_back(Percentile(b, 0.9));
    floor_p50.push_back(Percentile(c, 0.5));
    spaced_p50.push_back(Percentile(d, 0.5));
    spaced_p90.push_back(Percentile(d, 0.9));
    spaced_floor_p50.push_back(Percentile(e, 0.5));
    std::printf(
        "  run %d: whole program p50 %.1f ms p90 %.1f ms; warm p50 %.1f ms p90 %.1f ms; "
        "`pass` p50 %.1f ms; %d ms apart: warm p50 %.1f ms p90 %.1f ms, `pass` p50 %.1f ms\n",
        run + 1, whole_p50.back(), whole_p90.back(), warm_p50.back(), warm_p90.back(),
        floor_p50.back(), kGapMs, spaced_p50.back(), spaced_p90.back(), spaced_floor_p50.back());
  }
  double child_faults = 0, server_faults = 0;
  if (!faults(child_faults, server_faults)) return 1;
  std::printf(
      "python scorer verdict (fork-server, tier %s), medians of 3 runs of 200:\n"
      "  whole program per verdict: p50 %.1f ms, p90 %.1f ms\n"
      "  warm server (source loaded once, a fork per verdict): p50 %.1f ms, p90 %.1f ms "
      "(p50 %.1fx faster)\n"
      "  the floor, a fork-server run of `pass`: p50 %.1f ms (its child's CPU, as the kernel "
      "counts "
      "it: p50 %.0f ms)\n"
      "  verdicts %d ms apart (as after a model's reply), medians of 3 runs of 100: warm server "
      "p50 %.1f ms, p90 %.1f ms; `pass` p50 %.1f ms\n"
      "  page faults of one round trip (a probe that prints them; load does not change them): "
      "child %.0f, server %.0f\n"
      "  target: warm server p50 < 10 ms (issue 15); uptime load average at the end: %s\n",
      tier.c_str(), Median(whole_p50), Median(whole_p90), Median(warm_p50), Median(warm_p90),
      Median(whole_p50) / Median(warm_p50), Median(floor_p50), Median(floor_cpu), kGapMs,
      Median(spaced_p50), Median(spaced_p90), Median(spaced_floor_p50), child_faults, server_faults,
      LoadAverage().c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  // `bench_declared_sweep python`: the Python scorer verdicts only.
  if (argc > 1 && std::string(argv[1]) == "python") return PythonScorerVerdicts();
  size_t rows = argc > 1 ? std::stoul(argv[1]) : 1'000'000;
  std::filesystem::path dir = std::filesystem::temp_directory_path() /
                              ("cs_bench_declared_sweep_" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  {
    std::ofstream out(dir / "rows.jsonl");
    std::mt19937_64 rng(1);
    for (size_t i = 0; i < rows; ++i) {
      uint64_t a = rng() % 100000, b = rng() % 100000;
      out << "{\"id\": \"r" << i << "\", \"question\": \"What is " << a << " + " << b
          << "? Show your work, then give the answer.\", \"answer\": " << a + b << "}\n";
    }
    std::ofstream(dir / "sweep.toml") << kSweep;
  }
  std::printf("dataset: %zu rows, %.1f MB\n", rows,
              static_cast<double>(std::filesystem::file_size(dir / "rows.jsonl")) / 1e6);
  TaskRegistry builtin;
  std::vector<double> validate_s, enumerate_s, load_s, fill_us;
  SweepConfig config;
  for (int run = 0; run < 3; ++run) {
    auto t0 = BenchClock::now();
    Result<SweepConfig> c = LoadSweepFile((dir / "sweep.toml").string(), builtin);
    auto t1 = BenchClock::now();
    if (!c.ok()) {
      std::fprintf(stderr, "%s\n", c.status().ToString().c_str());
      return 1;
    }
    int64_t cells = 0;
    ForEachCell(*c, [&](const GridCell&) {
      ++cells;
      return true;
    });
    auto t2 = BenchClock::now();
    std::filesystem::remove(dir / "runs.db");
    StoreOptions so;
    so.synchronous_full = false;
    auto store = Store::Open((dir / "runs.db").string(), so);
    if (!store.ok()) return 1;
    Result<ExpandStats> stats = ExpandIntoStore(*c, **store);
    auto t3 = BenchClock::now();
    if (!stats.ok() || stats->inserted != static_cast<int64_t>(rows) ||
        cells != static_cast<int64_t>(rows)) {
      std::fprintf(stderr, "load failed\n");
      return 1;
    }
    validate_s.push_back(Seconds(t0, t1));
    enumerate_s.push_back(Seconds(t1, t2));
    load_s.push_back(Seconds(t2, t3));
    // Dispatch: 20,000 jobs get their row.
    DeclaredCatalog catalog(*c);
    std::vector<int64_t> keys = c->tasks[0].declared->SampleKeys("", -1, 0, 0);
    auto t4 = BenchClock::now();
    for (size_t i = 0; i < 20000; ++i) {
      JobSpec spec;
      spec.sweep = c->name;
      spec.task = "adds";
      spec.sample = keys[(i * 7919) % keys.size()];
      if (!catalog.Fill(spec).ok()) return 1;
    }
    fill_us.push_back(Seconds(t4, BenchClock::now()) / 20000 * 1e6);
    config = std::move(c).value();
  }
  std::printf("validate (LoadSweepFile, every row read and checked): median %.2f s\n",
              Median(validate_s));
  std::printf("enumerate the grid (ForEachCell, every cell key hashed): median %.2f s\n",
              Median(enumerate_s));
  std::printf("load into a fresh database (ExpandIntoStore, synchronous=NORMAL): median %.2f s\n",
              Median(load_s));
  std::printf("validate + enumerate: median %.2f s; validate + load: median %.2f s\n",
              Median(validate_s) + Median(enumerate_s), Median(validate_s) + Median(load_s));
  std::printf("dispatch: a job's row read and attached (DeclaredCatalog::Fill): median %.1f us\n",
              Median(fill_us));
  std::printf("peak resident memory after the loads: %ld MB\n", PeakRssMb());

  // 2. The declared scorer's share of a sim cell.
  DeclaredCatalog catalog(config);
  std::vector<int64_t> keys = config.tasks[0].declared->SampleKeys("", -1, 0, 0);
  NoExecutor no_exec;
  RunnerDeps deps;
  deps.executor = &no_exec;
  deps.tasks = &builtin;
  deps.make_client = MakeDefaultClientFactory(ProviderEnv{});
  std::vector<double> cell_us, score_us, wire_us;
  for (int run = 0; run < 3; ++run) {
    constexpr int kCells = 2000;
    std::vector<JobSpec> specs;
    for (int i = 0; i < kCells; ++i) {
      JobSpec spec;
      spec.sweep = config.name;
      spec.task = "adds";
      spec.sample = keys[(static_cast<size_t>(i) * 104729) % keys.size()];
      spec.model = config.models[0].spec;
      spec.gen = config.models[0].gen;
      spec.method = "only_question";
      if (!catalog.Fill(spec).ok()) return 1;
      specs.push_back(std::move(spec));
    }
    std::vector<std::string> replies;
    auto t0 = BenchClock::now();
    for (const JobSpec& spec : specs) {
      Outcome o = RunJob(spec, deps);
      if (o.failed) {
        std::fprintf(stderr, "cell failed: %s\n", o.error.c_str());
        return 1;
      }
      replies.push_back(o.calls.empty() ? "" : o.calls[0].response_json);
    }
    auto t1 = BenchClock::now();
    cell_us.push_back(Seconds(t0, t1) / kCells * 1e6);
    // The scoring step alone, on the same replies: extraction chain + numeric scorer.
    auto task = DeclaredRowTask::FromWire(specs[0].task_def, specs[0].task_row);
    Instance inst = (*task)->Generate("", 0, 1).value();
    auto t2 = BenchClock::now();
    int correct = 0;
    for (const std::string& r : replies)
      correct += JudgeDeclared((*task)->spec(), inst, r).verdict.correct;
    auto t3 = BenchClock::now();
    (void)correct;
    score_us.push_back(Seconds(t2, t3) / kCells * 1e6);
    // What a worker does per declared job before that: parse the definition and the row.
    auto t4 = BenchClock::now();
    for (const JobSpec& spec : specs) {
      if (!DeclaredRowTask::FromWire(spec.task_def, spec.task_row).ok()) return 1;
    }
    wire_us.push_back(Seconds(t4, BenchClock::now()) / kCells * 1e6);
  }
  std::printf("sim cell (RunJob, only_question, declared task): median %.1f us\n", Median(cell_us));
  std::printf(
      "declared scorer (extract + numeric) per verdict: median %.2f us = %.2f %% of a "
      "cell\n",
      Median(score_us), 100 * Median(score_us) / Median(cell_us));
  std::printf(
      "declared job set-up (definition + row parsed from the spec): median %.1f us = "
      "%.2f %% of a cell\n",
      Median(wire_us), 100 * Median(wire_us) / Median(cell_us));

  // 3. A Python scorer in fork-server mode.
  if (PythonScorerVerdicts() != 0) return 1;
  std::filesystem::remove_all(dir);
  return 0;
}
