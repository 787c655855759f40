// `codesweep status [SWEEP.toml] [--db FILE]`: per sweep and per (model, method) job counts by
// state, success so far, the rate over the last minute and an ETA, what remains to run, the
// latest run's provenance, and the workers. Opens the database read-only, so it is safe beside a
// running coordinator.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "base/log.h"
#include "coordinator/store/report_queries.h"
#include "coordinator/store/store.h"
#include "tools/codesweep/cli_common.h"
#include "tools/codesweep/commands.h"

namespace codesweep {

namespace {

struct StatusFlags {
  ReadDb target;
  std::string sweep;
  ReadFilter filter;
  bool json = false;
  bool watch = false;
  double interval_s = 2.0;
};

int64_t WallNowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Counts of one group or of a whole sweep. A lease whose worker is gone (an interrupted run, a
// lost worker) is "orphaned": nothing runs it, so it counts as pending, not running. A parked
// cell (batch mode) waits for a provider batch: neither finished nor running.
struct Totals {
  int64_t pending = 0, leased = 0, orphaned = 0, done = 0, failed = 0, dead = 0, correct = 0;
  int64_t parked = 0;
  int64_t first_ms = 0, recent = 0;
  void Add(const StatusRow& r) {
    pending += r.pending;
    leased += r.leased;
    orphaned += r.orphaned;
    done += r.done;
    failed += r.failed;
    dead += r.dead;
    parked += r.parked;
    correct += r.correct;
    recent += r.recent;
    if (r.first_finished_ms > 0 && (first_ms == 0 || r.first_finished_ms < first_ms)) {
      first_ms = r.first_finished_ms;
    }
  }
  int64_t total() const { return pending + leased + parked + done + failed + dead; }
  int64_t running() const { return leased - orphaned; }
  int64_t waiting() const { return pending + orphaned; }
  int64_t remaining() const { return pending + leased + parked; }
  // Cells per second over the last minute (or since the first result, if that is sooner), so an
  // outage shows 0; 0 as well when nothing of the sweep runs (`live` false: a stopped run).
  double rate(int64_t now_ms, bool live) const {
    if (recent == 0 || !live) return 0.0;
    const int64_t since_first = now_ms - first_ms;
    const int64_t window_ms = std::clamp<int64_t>(since_first, 1'000, kRecentWindowMs);
    return static_cast<double>(recent) * 1000.0 / static_cast<double>(window_ms);
  }
};

std::string Hms(int64_t s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%lldh%02lldm%02llds", static_cast<long long>(s / 3600),
                static_cast<long long>(s / 60 % 60), static_cast<long long>(s % 60));
  return buf;
}

// Seconds until the sweep's cells parked in batches can run again: the latest expected end of
// its live batches, each from its own progress (answered so far over its age) or, with none
// answered yet, from how long its ended batches took; requests still queued for a batch take
// that long from now. -1: unknown (no batch answered anything yet), 0: none waits.
struct BatchWait {
  int64_t live = 0, queued_requests = 0;
  double eta_s = 0;
};

BatchWait WaitForBatches(const std::vector<BatchRow>& batches, int64_t queued_requests,
                         int64_t now_ms) {
  BatchWait w;
  w.queued_requests = queued_requests;
  double ended_ms = 0;
  int64_t n_ended = 0;
  for (const BatchRow& b : batches) {
    if (!b.live() && b.ended_ms > 0 && b.state != "refused" && b.state != "failed") {
      ended_ms += static_cast<double>(b.ended_ms - b.created_ms);
      ++n_ended;
    }
  }
  const double typical_s = n_ended > 0 ? ended_ms / static_cast<double>(n_ended) / 1000.0 : -1;
  for (const BatchRow& b : batches) {
    if (!b.live()) continue;
    ++w.live;
    const double age_s = static_cast<double>(now_ms - b.created_ms) / 1000.0;
    const int64_t finished = b.n_done + b.n_failed;
    double left_s = -1;
    if (finished > 0 && b.n_requests > finished) {
      left_s = age_s * static_cast<double>(b.n_requests - finished) / static_cast<double>(finished);
    } else if (finished > 0) {
      left_s = 0;  // answered; its results are read on the next poll
    } else if (typical_s >= 0) {
      left_s = std::max(0.0, typical_s - age_s);
    }
    if (left_s < 0) return BatchWait{w.live, queued_requests, -1};
    w.eta_s = std::max(w.eta_s, left_s);
  }
  if (queued_requests > 0) {
    if (typical_s < 0) return BatchWait{w.live, queued_requests, -1};
    w.eta_s = std::max(w.eta_s, typical_s);
  }
  return w;
}

// "done", "stopped" (cells remain and nothing of the sweep runs), "-" (no rate yet) or h:mm:ss.
// With cells parked in batches, the later of the rate's ETA for the other cells and the batches'
// expected end ("-" while that is unknown). Later batch rounds of multi-turn cells are not
// foreseen.
std::string Eta(const Totals& t, int64_t now_ms, bool live, const BatchWait& batches = {}) {
  if (t.remaining() == 0) return "done";
  if (!live) return "stopped";
  double secs = 0;
  const int64_t others = t.pending + t.leased;
  if (others > 0) {
    double r = t.rate(now_ms, live);
    if (r <= 0) return "-";
    secs = static_cast<double>(others) / r;
  }
  if (t.parked > 0) {
    if (batches.eta_s < 0) return "-";
    secs = std::max(secs, batches.eta_s);
  }
  return Hms(static_cast<int64_t>(secs));
}

Totals SweepTotals(const std::vector<StatusRow>& rows) {
  Totals all;
  for (const StatusRow& r : rows) all.Add(r);
  return all;
}

nlohmann::json TotalsJson(const Totals& t, int64_t now_ms, bool live,
                          const BatchWait& batches = {}) {
  return {{"pending", t.waiting()},
          {"leased", t.running()},
          {"parked", t.parked},
          {"orphaned_leases", t.orphaned},
          {"remaining", t.remaining()},
          {"done", t.done},
          {"failed", t.failed},
          {"dead", t.dead},
          {"correct", t.correct},
          {"total", t.total()},
          {"rate_per_s", t.rate(now_ms, live)},
          {"rate_window_s", kRecentWindowMs / 1000},
          {"eta", Eta(t, now_ms, live, batches)}};
}

void PrintLine(const std::string& label, const Totals& t, int64_t now_ms, bool live,
               const BatchWait& batches = {}) {
  double pct =
      t.done > 0 ? 100.0 * static_cast<double>(t.correct) / static_cast<double>(t.done) : 0;
  std::printf("%-44s %8lld %7lld %7lld %7lld %8lld %6lld %5lld %6.1f%% %8.1f/s %10s\n",
              label.c_str(), static_cast<long long>(t.total()), static_cast<long long>(t.waiting()),
              static_cast<long long>(t.running()), static_cast<long long>(t.parked),
              static_cast<long long>(t.done), static_cast<long long>(t.failed),
              static_cast<long long>(t.dead), pct, t.rate(now_ms, live),
              Eta(t, now_ms, live, batches).c_str());
}

// What is left to run, and why nothing may be running it.
void PrintRemaining(const Totals& t) {
  if (t.remaining() == 0) return;
  std::printf("  %lld cells remain to run", static_cast<long long>(t.remaining()));
  if (t.orphaned > 0) {
    std::printf(" (%lld of them leased to workers that are gone; the next run takes them back)",
                static_cast<long long>(t.orphaned));
  }
  if (t.parked > 0) {
    std::printf(" (%lld of them parked: waiting for provider batches)",
                static_cast<long long>(t.parked));
  }
  std::printf("\n");
}

std::string Limit(double v) {
  if (v <= 0) return "-";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.0f", v);
  return buf;
}

// What is left in a bucket ("-" when unlimited; negative while paying back an under-estimate).
std::string Available(double limit, double level) {
  if (limit <= 0) return "-";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.0f", level);
  return buf;
}

// The coordinator's live rate-limiter buckets (table rate_limits; absent in old databases).
void PrintRateLimits(Store& store) {
  Result<std::vector<RateLimitRow>> rows = store.RateLimits();
  if (!rows.ok() || rows->empty()) return;
  const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  std::printf("\n%-44s %8s %9s %9s %9s %6s %5s %6s %9s %6s %8s\n", "rate limits (live)", "rpm",
              "tpm", "req avail", "tok avail", "flight", "cap", "queued", "granted", "429s",
              "cooldown");
  for (const RateLimitRow& r : *rows) {
    std::string name = "  " + r.provider + ":" + r.model + " @" + r.key_alias;
    if (now - r.updated_ms > 10'000) name += " (stale)";
    std::printf("%-44s %8s %9s %9s %9s %6lld %5s %6lld %9lld %6lld %7lldms\n", name.c_str(),
                Limit(r.rpm).c_str(), Limit(r.tpm).c_str(),
                Available(r.rpm, r.requests_available).c_str(),
                Available(r.tpm, r.tokens_available).c_str(), static_cast<long long>(r.in_flight),
                r.cap > 0 ? std::to_string(r.cap).c_str() : "-", static_cast<long long>(r.queued),
                static_cast<long long>(r.granted), static_cast<long long>(r.rate_limited),
                static_cast<long long>(r.cooldown_ms));
  }
}

// Workers the coordinator has seen: state, last heartbeat and the jobs they hold now.
constexpr const char* kWorkersSql =
    "SELECT w.worker_id, w.host, w.pid, w.slots, w.state, w.last_seen_ms,"
    " (SELECT count(*) FROM jobs j WHERE j.state = 'leased' AND j.worker = w.worker_id) AS leased"
    " FROM workers w ORDER BY w.last_seen_ms DESC LIMIT 50";

// Calls per sweep whose provider reported fewer prompt tokens than the prompt holds (docs/llm.md).
std::map<std::string, int64_t> PromptTruncated(const std::string& db) {
  std::map<std::string, int64_t> out;
  auto reader = ReportDb::Open(db);
  if (!reader.ok()) return out;
  auto t = (*reader)->Query(
      "SELECT s.name, count(*) FROM calls k JOIN jobs j ON j.id = k.job_id"
      " JOIN sweeps s ON s.id = j.sweep_id WHERE k.prompt_truncated GROUP BY s.name");
  if (!t.ok()) return out;
  for (const auto& row : t->rows) {
    if (row.size() == 2 && row[0] && row[1]) out[*row[0]] = std::atoll(row[1]->c_str());
  }
  return out;
}

void PrintWorkers(const std::string& db) {
  auto reader = ReportDb::Open(db);
  if (!reader.ok()) return;
  auto t = (*reader)->Query(kWorkersSql);
  if (!t.ok() || t->rows.empty()) return;
  const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  std::printf("\n%-32s %-16s %8s %6s %6s %12s %7s\n", "workers (most recent first)", "host", "pid",
              "slots", "state", "last heard", "leased");
  auto col = [](const std::vector<std::optional<std::string>>& row, size_t i) {
    return i < row.size() && row[i] ? *row[i] : std::string();
  };
  for (const auto& row : t->rows) {
    const int64_t ago_ms = now - std::atoll(col(row, 5).c_str());
    // The coordinator writes a connected worker's last message time every 2 s; an 'up' worker
    // not heard from for longer than kLiveWorkerMs has a coordinator that stopped writing.
    std::string state = col(row, 4);
    if (state == "up" && ago_ms > kLiveWorkerMs) state = "silent";
    std::printf("  %-30s %-16s %8s %6s %6s %10llds %7s\n", col(row, 0).c_str(), col(row, 1).c_str(),
                col(row, 2).c_str(), col(row, 3).c_str(), state.c_str(),
                static_cast<long long>(ago_ms / 1000), col(row, 6).c_str());
  }
}

// The live rate-limiter buckets and the workers seen, for --json.
nlohmann::json RateLimitsJson(Store& store) {
  nlohmann::json out = nlohmann::json::array();
  Result<std::vector<RateLimitRow>> rows = store.RateLimits();
  if (!rows.ok()) return out;
  for (const RateLimitRow& r : *rows) {
    out.push_back({{"provider", r.provider},
                   {"model", r.model},
                   {"key_alias", r.key_alias},
                   {"rpm", r.rpm},
                   {"tpm", r.tpm},
                   {"requests_available", r.requests_available},
                   {"tokens_available", r.tokens_available},
                   {"in_flight", r.in_flight},
                   {"cap", r.cap},
                   {"queued", r.queued},
                   {"granted", r.granted},
                   {"rate_limited", r.rate_limited},
                   {"cooldown_ms", r.cooldown_ms},
                   {"updated_ms", r.updated_ms}});
  }
  return out;
}

nlohmann::json WorkersJson(const std::string& db) {
  nlohmann::json out = nlohmann::json::array();
  auto reader = ReportDb::Open(db);
  if (!reader.ok()) return out;
  auto t = (*reader)->Query(kWorkersSql);
  if (!t.ok()) return out;
  for (const auto& row : t->rows) {
    nlohmann::json w;
    for (size_t i = 0; i < t->columns.size() && i < row.size(); ++i) {
      w[t->columns[i]] = row[i] ? nlohmann::json(*row[i]) : nlohmann::json();
    }
    out.push_back(w);
  }
  return out;
}

// Why the coordinator stopped starting cells of each sweep (a budget; sweeps.stop_reason, which
// databases older than migration 7 lack: then none).
std::map<std::string, std::string> StopReasons(const std::string& db) {
  std::map<std::string, std::string> out;
  auto reader = ReportDb::Open(db);
  if (!reader.ok()) return out;
  auto t = (*reader)->Query("SELECT name, stop_reason FROM sweeps WHERE stop_reason != ''");
  if (!t.ok()) return out;
  for (const auto& row : t->rows) {
    if (row.size() == 2 && row[0] && row[1]) out[*row[0]] = *row[1];
  }
  return out;
}

// The provenance of each sweep's latest run (table runs), keyed by sweep name.
std::map<std::string, RunRow> LatestRuns(const std::string& db) {
  std::map<std::string, RunRow> out;
  auto reader = ReportDb::Open(db);
  if (!reader.ok()) return out;
  auto runs = (*reader)->LatestRuns();
  if (!runs.ok()) return out;
  for (RunRow& r : *runs) out[r.sweep] = std::move(r);
  return out;
}

// A coordinator is serving the database: a worker it talks to is live (it writes their last-seen
// times every 2 s). Cells parked in batches make progress only then.
bool CoordinatorLive(const std::string& db, int64_t now_ms) {
  auto reader = ReportDb::Open(db);
  if (!reader.ok()) return false;
  auto t = (*reader)->Query(Str("SELECT count(*) FROM workers WHERE state = 'up' AND",
                                " last_seen_ms >= ", now_ms - kLiveWorkerMs));
  return t.ok() && !t->rows.empty() && !t->rows[0].empty() && t->rows[0][0] &&
         std::atoll(t->rows[0][0]->c_str()) > 0;
}

// The provider batches of one sweep (batch mode, docs/batch.md): the open ones and the recent
// ended ones, and when the cells waiting for them may run again.
struct SweepBatches {
  std::vector<BatchRow> shown;
  BatchWait wait;
};
constexpr int64_t kRecentBatchMs = 3'600'000;  // ended batches shown for an hour
constexpr size_t kRecentBatches = 5;

std::map<std::string, SweepBatches> BatchesBySweep(Store& store, int64_t now_ms) {
  std::map<std::string, SweepBatches> out;
  auto sweeps = store.ListSweeps();
  if (!sweeps.ok()) return out;
  for (const auto& [id, rec] : *sweeps) {
    Result<std::vector<BatchRow>> rows = store.ListBatches(id, 500);
    Result<int64_t> queued = store.CountQueuedBatchRequests(id);
    if (!rows.ok() || !queued.ok() || (rows->empty() && *queued == 0)) continue;
    SweepBatches& s = out[rec.name];
    s.wait = WaitForBatches(*rows, *queued, now_ms);
    size_t recent = 0;
    for (const BatchRow& b : *rows) {  // newest first
      if (b.live()) {
        s.shown.push_back(b);
      } else if (recent < kRecentBatches && now_ms - b.ended_ms <= kRecentBatchMs) {
        ++recent;
        s.shown.push_back(b);
      }
    }
  }
  return out;
}

std::string BatchState(const BatchRow& b) {
  return b.live() && b.cancel_requested_ms > 0 ? "cancelling" : b.state;
}

void PrintBatches(const SweepBatches& s, int64_t now_ms) {
  if (!s.shown.empty()) {
    std::printf("  batches (open and recent)       %-32s %-24s %10s %17s %-12s\n", "provider id",
                "model", "age", "done/failed/total", "state");
  }
  for (const BatchRow& b : s.shown) {
    const int64_t end = b.ended_ms > 0 ? b.ended_ms : now_ms;
    std::printf("    batch %-24lld %-32s %-24s %10s %5lld/%5lld/%5lld %-12s\n",
                static_cast<long long>(b.id), b.provider_id.empty() ? "-" : b.provider_id.c_str(),
                (b.provider + ":" + b.model).c_str(), Hms((end - b.created_ms) / 1000).c_str(),
                static_cast<long long>(b.n_done), static_cast<long long>(b.n_failed),
                static_cast<long long>(b.n_requests), BatchState(b).c_str());
  }
  if (s.wait.queued_requests > 0) {
    std::printf("    %lld request(s) queued for the next batch\n",
                static_cast<long long>(s.wait.queued_requests));
  }
}

nlohmann::json BatchesJson(const SweepBatches& s) {
  nlohmann::json rows = nlohmann::json::array();
  for (const BatchRow& b : s.shown) {
    rows.push_back({{"id", b.id},
                    {"provider_id", b.provider_id},
                    {"provider", b.provider},
                    {"model", b.model},
                    {"state", BatchState(b)},
                    {"requests", b.n_requests},
                    {"done", b.n_done},
                    {"failed", b.n_failed},
                    {"cost_usd", b.cost_usd},
                    {"created_ms", b.created_ms},
                    {"ended_ms", b.ended_ms}});
  }
  return rows;
}

nlohmann::json RunJson(const RunRow& r) {
  return {{"command", r.command},           {"version", r.version}, {"git_commit", r.git_commit},
          {"sweep_sha256", r.sweep_sha256}, {"host", r.host},       {"pid", r.pid},
          {"started_ms", r.started_ms},     {"runs", r.runs}};
}

void PrintRun(const RunRow& r) {
  std::printf("  last %s: codesweep %s%s on %s (pid %lld), sweep file sha256 %.16s, %lld run(s)\n",
              r.command.c_str(), r.version.c_str(),
              r.git_commit.empty() ? "" : (" (git " + r.git_commit + ")").c_str(), r.host.c_str(),
              static_cast<long long>(r.pid), r.sweep_sha256.c_str(),
              static_cast<long long>(r.runs));
}

int ShowOnce(const StatusFlags& f, const std::string& db) {
  StoreOptions opts;
  opts.read_only = true;
  auto store = Store::Open(db, opts);
  if (!store.ok()) return PrintError("status", store.status());
  const int64_t now = WallNowMs();
  auto rows = (*store)->StatusRows(f.sweep, f.filter, now);
  if (!rows.ok()) return PrintError("status", rows.status());
  std::map<std::string, std::vector<StatusRow>> by_sweep;
  for (const auto& r : *rows) by_sweep[r.sweep].push_back(r);
  const std::map<std::string, std::string> stopped = StopReasons(db);
  std::map<std::string, RunRow> runs = LatestRuns(db);
  const std::map<std::string, SweepBatches> batches = BatchesBySweep(**store, now);
  const bool coordinator_live = CoordinatorLive(db, now);
  // A sweep runs while a lease is out, or while cells wait in batches a coordinator polls.
  auto is_live = [&](const Totals& all) {
    return all.running() > 0 || (all.parked > 0 && coordinator_live);
  };
  auto batches_of = [&](const std::string& sweep) {
    auto it = batches.find(sweep);
    return it == batches.end() ? SweepBatches{} : it->second;
  };
  if (f.json) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& [sweep, list] : by_sweep) {
      const Totals all = SweepTotals(list);
      const bool live = is_live(all);
      const SweepBatches sb = batches_of(sweep);
      nlohmann::json groups = nlohmann::json::array();
      for (const auto& r : list) {
        Totals t;
        t.Add(r);
        nlohmann::json g = TotalsJson(t, now, live, sb.wait);
        g["model"] = r.model;
        g["method"] = r.method;
        groups.push_back(g);
      }
      nlohmann::json s = TotalsJson(all, now, live, sb.wait);
      s["sweep"] = sweep;
      s["groups"] = groups;
      s["batches"] = BatchesJson(sb);
      s["batch_requests_queued"] = sb.wait.queued_requests;
      s["batch_eta_s"] = sb.wait.eta_s;
      auto stop = stopped.find(sweep);
      s["stopped"] = stop == stopped.end() ? "" : stop->second;
      if (auto it = runs.find(sweep); it != runs.end()) s["last_run"] = RunJson(it->second);
      out.push_back(s);
    }
    nlohmann::json doc = {
        {"sweeps", out}, {"rate_limits", RateLimitsJson(**store)}, {"workers", WorkersJson(db)}};
    const std::map<std::string, int64_t> cut = PromptTruncated(db);
    for (nlohmann::json& s : doc["sweeps"]) {
      auto it = cut.find(s["sweep"].get<std::string>());
      s["prompt_truncated"] = it != cut.end() ? it->second : 0;
    }
    std::printf("%s\n", doc.dump(2).c_str());
    return 0;
  }
  if (by_sweep.empty()) {
    std::printf("no %s in %s\n", f.filter.empty() ? "sweeps" : "cells match the filters",
                db.c_str());
  }
  const std::map<std::string, int64_t> cut = PromptTruncated(db);
  for (const auto& [sweep, list] : by_sweep) {
    std::printf("%-44s %8s %7s %7s %7s %8s %6s %5s %7s %10s %10s\n", ("sweep " + sweep).c_str(),
                "total", "pending", "running", "parked", "done", "failed", "dead", "correct",
                "rate/1min", "eta");
    const Totals all = SweepTotals(list);
    const bool live = is_live(all);
    const SweepBatches sb = batches_of(sweep);
    for (const auto& r : list) {
      Totals t;
      t.Add(r);
      PrintLine("  " + r.model + " / " + r.method, t, now, live, sb.wait);
    }
    PrintLine("  all", all, now, live, sb.wait);
    if (auto stop = stopped.find(sweep); stop != stopped.end()) {
      std::printf("  stopped: %s (raise it in the sweep file and run again to continue)\n",
                  stop->second.c_str());
    }
    PrintRemaining(all);
    PrintBatches(sb, now);
    if (auto it = runs.find(sweep); it != runs.end()) PrintRun(it->second);
    if (auto it = cut.find(sweep); it != cut.end()) {
      std::printf("  prompt_truncated %lld calls: the server cut the prompt (docs/llm.md)\n",
                  static_cast<long long>(it->second));
    }
  }
  PrintRateLimits(**store);
  PrintWorkers(db);
  return 0;
}

int RunStatus(const StatusFlags& f) {
  Result<std::string> db = ResolveReadDb(f.target);
  if (!db.ok()) return PrintError("status", db.status());
  if (!f.watch) return ShowOnce(f, *db);
  for (;;) {
    std::printf("\033[H\033[2J");
    int rc = ShowOnce(f, *db);
    if (rc != 0) return rc;
    std::fflush(stdout);
    std::this_thread::sleep_for(std::chrono::milliseconds(static_cast<int>(f.interval_s * 1000)));
  }
}

}  // namespace

CommandAction SetupStatusCommand(CLI::App& sub) {
  auto flags = std::make_shared<StatusFlags>();
  AddReadDbOptions(sub, &flags->target);
  sub.add_option("--sweep", flags->sweep, "Only this sweep");
  AddReadFilterOptions(sub, &flags->filter);
  sub.add_flag("--json", flags->json, "Machine-readable output");
  sub.add_flag("--watch", flags->watch, "Refresh until interrupted");
  sub.add_option("--interval", flags->interval_s, "Seconds between refreshes with --watch");
  return [flags] { return RunStatus(*flags); };
}

}  // namespace codesweep
