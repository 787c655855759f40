// bench_store: measures the store on its own (no network). Plain main, one pass each:
//   1. grid expansion: a sweep of N cells expanded into a fresh database (ExpandIntoStore),
//   2. reopen of that database to the first FetchPending page,
//   3. paging through every pending job (time and resident memory),
//   4. lease + complete throughput with group commit (commit every --commit-every jobs).
// Usage: bench_store [--cells N] [--complete N] [--commit-every N] [--dir DIR]
//                    [--normal]  (synchronous=NORMAL instead of FULL)
//                    [--nonempty]  (also: the same grid into a database that has jobs)
//                    [--no-view-triggers]  (without the triggers that keep `codesweep view`'s
//                                           tables, migrations 0013, 0019 and 0020, nor the
//                                           full-text indexing at each commit (0022): their
//                                           write cost)
//                    [--drop-triggers PREFIX]  (without the triggers whose names begin with PREFIX,
//                                               e.g. view_states_; repeatable)
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "base/hash.h"
#include "coordinator/store/sqlite_db.h"
#include "coordinator/store/store.h"
#include "coordinator/sweep/grid.h"
#include "coordinator/sweep/sweep_file.h"
#include "jobs/tasks/task.h"

namespace codesweep {
namespace {

struct Args {
  int64_t cells = 1'000'000;
  int64_t complete = 200'000;
  int64_t commit_every = 500;
  std::string dir;
  bool normal = false;
  bool nonempty = false;  // also time a load into a database that already has jobs
  bool view_triggers = true;
  std::vector<std::string> drop_triggers;  // name prefixes
};

double Seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

// CPU seconds (user + system) used by this process so far. The benchmark prints CPU time next
// to wall time because shared build machines steal the CPU from it.
double CpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  auto sec = [](const timeval& t) { return t.tv_sec + t.tv_usec / 1e6; };
  return sec(u.ru_utime) + sec(u.ru_stime);
}

// Resident and peak memory in MiB (from /proc/self/status).
std::pair<double, double> RssMiB() {
  std::ifstream in("/proc/self/status");
  std::string line;
  double rss = 0, hwm = 0;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) rss = std::atof(line.c_str() + 6) / 1024;
    if (line.rfind("VmHWM:", 0) == 0) hwm = std::atof(line.c_str() + 6) / 1024;
  }
  return {rss, hwm};
}

void Die(const Status& s, const char* what) {
  std::fprintf(stderr, "bench_store: %s: %s\n", what, s.ToString().c_str());
  std::exit(1);
}

Outcome SampleOutcome() {
  Outcome o;
  o.final_answer = "24";
  o.correct = true;
  o.score = 1;
  o.passed_by = "code";
  o.verdict_reason = "expression evaluates to 24";
  o.code_used = o.code_ok = true;
  o.turns_used = 1;
  o.tokens_in = 420;
  o.tokens_out = 180;
  CallRecord call;
  call.call_key = Sha256Hex("call");
  call.request_json = std::string(600, 'q');
  call.response_json = std::string(500, 'r');
  o.calls.push_back(call);
  ExecutionRecord exec;
  exec.code = "print((4+4)*(4-1))";
  exec.status = "ok";
  exec.stdout_text = "24\n";
  exec.tier = "plain";
  o.executions.push_back(exec);
  return o;
}

std::unique_ptr<Store> OpenStore(const std::string& path, const Args& args) {
  StoreOptions options;
  options.synchronous_full = !args.normal;
  auto store = Store::Open(path, options);
  if (!store.ok()) Die(store.status(), "open");
  return std::move(store).value();
}

// Wall and CPU time since construction.
struct Timer {
  std::chrono::steady_clock::time_point wall = std::chrono::steady_clock::now();
  double cpu = CpuSeconds();
  double Wall() const { return Seconds(wall); }
  double Cpu() const { return CpuSeconds() - cpu; }
};

// A sweep file of exactly `cells` cells: number_multiply at 10 levels x 10 simulated models x 2
// methods x (cells / 200) samples.
std::string SweepText(int64_t cells) {
  std::string t =
      "name = \"bench\"\nseed = 7\nsamples = " + std::to_string(std::max<int64_t>(1, cells / 200)) +
      "\nmethods = [\"only_question\", \"all_code\"]\n"
      "[[tasks]]\nname = \"number_multiply\"\ncomplexity = [\"1_1\", \"1_2\", \"2_2\","
      " \"2_3\", \"3_3\", \"3_4\", \"4_4\", \"1_2_4\", \"5_5\", \"6_6\"]\n";
  for (int m = 0; m < 10; ++m) {
    t += "[models.\"sim:m" + std::to_string(m) + "\"]\np_correct = 0." + std::to_string(m) + "\n";
  }
  return t;
}

// Grid expansion end to end, as `codesweep run` does it: the parsed sweep is expanded (cell keys
// hashed) and inserted into a fresh database, and committed. Also reports the expansion alone
// (keys hashed, nothing stored) to show where the time goes.
void BenchInsert(const std::string& path, const Args& args) {
  auto tasks = TaskRegistry::Create(DefaultDataDir());
  if (!tasks.ok()) Die(tasks.status(), "task registry");
  auto config = ParseSweep(SweepText(args.cells), "bench.toml", **tasks);
  if (!config.ok()) Die(config.status(), "sweep");
  Timer keys;
  int64_t n = 0;
  ForEachCell(*config, [&](const GridCell&) { return ++n > 0; });
  std::printf("expand only    %lld cells, keys hashed, nothing stored: %.2f s wall / %.2f s cpu\n",
              static_cast<long long>(n), keys.Wall(), keys.Cpu());
  auto store = OpenStore(path, args);
  Timer t;
  auto stats = ExpandIntoStore(*config, *store);
  if (!stats.ok()) Die(stats.status(), "expand");
  auto [rss, hwm] = RssMiB();
  std::printf(
      "expand+insert  %lld cells into a fresh database, committed: %.2f s wall / %.2f s cpu, "
      "%.0f cells/s; RSS %.1f MiB, peak %.1f MiB\n",
      static_cast<long long>(stats->inserted), t.Wall(), t.Cpu(), stats->inserted / t.Wall(), rss,
      hwm);
  Timer later;
  auto built = store->BuildReportIndexes();
  if (!built.ok()) Die(built.status(), "report indexes");
  if (Status c = store->Commit(); !c.ok()) Die(c, "commit");
  std::printf("report index   %d built when the sweep has finished: %.2f s wall / %.2f s cpu\n",
              *built, later.Wall(), later.Cpu());
  Timer again;
  auto second = ExpandIntoStore(*config, *store);
  if (!second.ok()) Die(second.status(), "expand again");
  std::printf("expand again   same sweep, %lld new cells: %.2f s wall / %.2f s cpu\n",
              static_cast<long long>(second->inserted), again.Wall(), again.Cpu());
  Timer close;
  store.reset();
  std::printf("close          (WAL checkpoint): %.2f s\n", close.Wall());
  if (args.nonempty) {
    // The same sweep under another name into a database that already holds jobs: the indexes
    // stay and every cell is one INSERT OR IGNORE into them.
    std::string other = path + ".nonempty";
    auto more = OpenStore(other, args);
    auto one = ParseSweep(SweepText(1), "one.toml", **tasks);
    if (!one.ok() || !ExpandIntoStore(*one, *more).ok()) Die(one.status(), "seed sweep");
    Timer t2;
    auto stats2 = ExpandIntoStore(*config, *more);
    if (!stats2.ok()) Die(stats2.status(), "expand nonempty");
    std::printf(
        "expand+insert  %lld cells into a database that already has jobs: %.2f s wall / "
        "%.2f s cpu\n",
        static_cast<long long>(stats2->inserted), t2.Wall(), t2.Cpu());
    more.reset();
    for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(other + suffix);
  }
}

void BenchReopenAndPage(const std::string& path, const Args& args) {
  Timer t;
  auto store = OpenStore(path, args);
  auto page = store->FetchPending(0, JobId(0), 1000);
  if (!page.ok()) Die(page.status(), "fetch");
  std::printf("reopen         to first FetchPending(1000): %.3f s wall / %.3f s cpu (%zu rows)\n",
              t.Wall(), t.Cpu(), page->size());
  Timer p;
  int64_t total = 0;
  JobId after(0);
  while (true) {
    auto rows = store->FetchPending(0, after, 1000);
    if (!rows.ok()) Die(rows.status(), "fetch");
    if (rows->empty()) break;
    total += static_cast<int64_t>(rows->size());
    after = rows->back().job;
  }
  auto [rss, hwm] = RssMiB();
  std::printf(
      "page           all %lld pending, pages of 1000: %.2f s wall / %.2f s cpu; RSS %.1f MiB, "
      "peak %.1f MiB\n",
      static_cast<long long>(total), p.Wall(), p.Cpu(), rss, hwm);
}

// FetchPending + LeaseJob + CompleteJob (1 call, 1 execution) per job, Commit every
// args.commit_every jobs (the coordinator commits every 10-20 ms).
void BenchLeaseComplete(const std::string& path, const Args& args) {
  auto store = OpenStore(path, args);
  const Outcome outcome = SampleOutcome();
  Timer t;
  int64_t done = 0, since_commit = 0, commits = 0;
  JobId after(0);
  while (done < args.complete) {
    auto page = store->FetchPending(0, after, 1000);
    if (!page.ok()) Die(page.status(), "fetch");
    if (page->empty()) break;
    for (const JobRow& row : *page) {
      auto lease = store->LeaseJob(row.job, "bench-worker", 1);
      if (!lease.ok()) Die(lease.status(), "lease");
      auto r = store->CompleteJob(row.job, *lease, outcome, 2, 0);
      if (!r.ok() || *r != CompleteResult::kAccepted) Die(r.status(), "complete");
      ++done;
      if (++since_commit == args.commit_every) {
        if (Status s = store->Commit(); !s.ok()) Die(s, "commit");
        since_commit = 0;
        ++commits;
      }
      if (done == args.complete) break;
    }
    after = page->back().job;
  }
  if (Status s = store->Commit(); !s.ok()) Die(s, "commit");
  std::printf(
      "lease+complete %lld jobs, %lld commits (%s): %.2f s wall / %.2f s cpu; %.0f jobs/s wall, "
      "%.0f jobs/cpu-s\n",
      static_cast<long long>(done), static_cast<long long>(commits + 1),
      args.normal ? "synchronous=NORMAL" : "synchronous=FULL", t.Wall(), t.Cpu(), done / t.Wall(),
      done / t.Cpu());
}

// Makes the database at `path` and drops the triggers that keep the viewer's tables (view_grain,
// view_sweep_calls, view_states, view_outcomes and the full-text indexes), or those whose names
// begin with one of `prefixes`, so that the run shows what they cost.
void DropViewTriggers(const std::string& path, const Args& args,
                      const std::vector<std::string>& prefixes) {
  OpenStore(path, args).reset();
  auto db = store_internal::StoreDb::Open(path, false, false);
  if (!db.ok()) Die(db.status(), "open");
  std::vector<std::string> names;
  {
    auto list = (*db)->Prepare(
        "SELECT name FROM sqlite_schema WHERE type = 'trigger' AND (name LIKE 'view\\_%' ESCAPE"
        " '\\' OR name LIKE 'reply\\_search\\_%' ESCAPE '\\' OR name LIKE"
        " 'answer\\_search\\_%' ESCAPE '\\') ORDER BY name");
    if (!list.ok()) Die(list.status(), "list triggers");
    while (true) {
      auto row = list->Step();
      if (!row.ok()) Die(row.status(), "list triggers");
      if (!*row) break;
      names.push_back(list->Text(0));
    }
  }
  std::string dropped;
  for (const std::string& name : names) {
    bool chosen = prefixes.empty();
    for (const std::string& prefix : prefixes) chosen = chosen || name.starts_with(prefix);
    if (!chosen) continue;
    if (Status s = (*db)->Exec("DROP TRIGGER " + name); !s.ok()) Die(s, "drop trigger");
    dropped += " " + name;
  }
  if (prefixes.empty()) {
    // Since 0022 the store's commit fills the full-text indexes from these two tables; without
    // them it does not (Store::Open looks for them).
    for (const char* table : {"view_search_mark", "view_answer_backlog"}) {
      if (Status s = (*db)->Exec(std::string("DROP TABLE IF EXISTS ") + table); !s.ok()) {
        Die(s, "drop table");
      }
      dropped += std::string(" ") + table;
    }
  }
  std::printf("view triggers  dropped:%s\n", dropped.c_str());
}

Args ParseArgs(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    std::string flag = argv[i];
    auto next = [&]() -> const char* { return i + 1 < argc ? argv[++i] : "0"; };
    if (flag == "--cells")
      a.cells = std::atoll(next());
    else if (flag == "--complete")
      a.complete = std::atoll(next());
    else if (flag == "--commit-every")
      a.commit_every = std::max<int64_t>(1, std::atoll(next()));
    else if (flag == "--dir")
      a.dir = next();
    else if (flag == "--normal")
      a.normal = true;
    else if (flag == "--nonempty")
      a.nonempty = true;
    else if (flag == "--no-view-triggers")
      a.view_triggers = false;
    else if (flag == "--drop-triggers")
      a.drop_triggers.push_back(next());
    else {
      std::fprintf(stderr, "bench_store: unknown flag %s\n", flag.c_str());
      std::exit(2);
    }
  }
  return a;
}

}  // namespace
}  // namespace codesweep

int main(int argc, char** argv) {
  using namespace codesweep;
  Args args = ParseArgs(argc, argv);
  std::string dir = args.dir;
  if (dir.empty()) {
    std::string tmpl = (std::filesystem::temp_directory_path() / "bench_store_XXXXXX").string();
    dir = mkdtemp(tmpl.data());
  }
  const std::string path = dir + "/bench.db";
  if (!args.view_triggers) DropViewTriggers(path, args, {});
  if (!args.drop_triggers.empty()) DropViewTriggers(path, args, args.drop_triggers);
  BenchInsert(path, args);
  BenchReopenAndPage(path, args);
  BenchLeaseComplete(path, args);
  std::printf("db size     %.1f MiB\n", std::filesystem::file_size(path) / (1024.0 * 1024.0));
  if (args.dir.empty()) std::filesystem::remove_all(dir);
  return 0;
}
