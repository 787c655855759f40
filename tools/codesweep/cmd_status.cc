// `codesweep status --db FILE`: per sweep and per (model, method) job counts by state, success so
// far, rate and ETA. Opens the database read-only, so it is safe beside a running coordinator.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "coordinator/store/report_queries.h"
#include "coordinator/store/store.h"
#include "tools/codesweep/cli_common.h"
#include "tools/codesweep/commands.h"

namespace codesweep {

namespace {

struct StatusFlags {
  std::string db;
  std::string sweep;
  bool json = false;
  bool watch = false;
  double interval_s = 2.0;
};

struct Totals {
  int64_t pending = 0, leased = 0, done = 0, failed = 0, dead = 0, correct = 0;
  int64_t first_ms = 0, last_ms = 0;
  void Add(const StatusRow& r) {
    pending += r.pending;
    leased += r.leased;
    done += r.done;
    failed += r.failed;
    dead += r.dead;
    correct += r.correct;
    if (r.first_finished_ms > 0 && (first_ms == 0 || r.first_finished_ms < first_ms)) {
      first_ms = r.first_finished_ms;
    }
    last_ms = std::max(last_ms, r.last_finished_ms);
  }
  int64_t total() const { return pending + leased + done + failed + dead; }
  int64_t finished() const { return done + failed + dead; }
  // Cells per second over the finished span (0 when unknown).
  double rate() const {
    double span_s = static_cast<double>(last_ms - first_ms) / 1000.0;
    return span_s > 0 && finished() > 1 ? static_cast<double>(finished() - 1) / span_s : 0.0;
  }
};

std::string Eta(const Totals& t) {
  int64_t left = t.pending + t.leased;
  if (left == 0) return "done";
  double r = t.rate();
  if (r <= 0) return "-";
  int64_t s = static_cast<int64_t>(static_cast<double>(left) / r);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%lldh%02lldm%02llds", static_cast<long long>(s / 3600),
                static_cast<long long>(s / 60 % 60), static_cast<long long>(s % 60));
  return buf;
}

nlohmann::json TotalsJson(const Totals& t) {
  return {{"pending", t.pending}, {"leased", t.leased},     {"done", t.done},
          {"failed", t.failed},   {"dead", t.dead},         {"correct", t.correct},
          {"total", t.total()},   {"rate_per_s", t.rate()}, {"eta", Eta(t)}};
}

void PrintLine(const char* label, const Totals& t) {
  double pct =
      t.done > 0 ? 100.0 * static_cast<double>(t.correct) / static_cast<double>(t.done) : 0;
  std::printf("%-44s %8lld %7lld %7lld %8lld %6lld %5lld %6.1f%% %8.1f/s %10s\n", label,
              static_cast<long long>(t.total()), static_cast<long long>(t.pending),
              static_cast<long long>(t.leased), static_cast<long long>(t.done),
              static_cast<long long>(t.failed), static_cast<long long>(t.dead), pct, t.rate(),
              Eta(t).c_str());
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
              "slots", "state", "last seen", "leased");
  auto col = [](const std::vector<std::optional<std::string>>& row, size_t i) {
    return i < row.size() && row[i] ? *row[i] : std::string();
  };
  for (const auto& row : t->rows) {
    int64_t ago_s = (now - std::atoll(col(row, 5).c_str())) / 1000;
    std::printf("  %-30s %-16s %8s %6s %6s %10llds %7s\n", col(row, 0).c_str(), col(row, 1).c_str(),
                col(row, 2).c_str(), col(row, 3).c_str(), col(row, 4).c_str(),
                static_cast<long long>(ago_s), col(row, 6).c_str());
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

int ShowOnce(const StatusFlags& f) {
  StoreOptions opts;
  opts.read_only = true;
  auto store = Store::Open(f.db, opts);
  if (!store.ok()) return PrintError("status", store.status());
  auto rows = (*store)->StatusRows(f.sweep);
  if (!rows.ok()) return PrintError("status", rows.status());
  std::map<std::string, std::vector<StatusRow>> by_sweep;
  for (const auto& r : *rows) by_sweep[r.sweep].push_back(r);
  if (f.json) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& [sweep, list] : by_sweep) {
      Totals all;
      nlohmann::json groups = nlohmann::json::array();
      for (const auto& r : list) {
        Totals t;
        t.Add(r);
        all.Add(r);
        nlohmann::json g = TotalsJson(t);
        g["model"] = r.model;
        g["method"] = r.method;
        groups.push_back(g);
      }
      nlohmann::json s = TotalsJson(all);
      s["sweep"] = sweep;
      s["groups"] = groups;
      out.push_back(s);
    }
    nlohmann::json doc = {
        {"sweeps", out}, {"rate_limits", RateLimitsJson(**store)}, {"workers", WorkersJson(f.db)}};
    const std::map<std::string, int64_t> cut = PromptTruncated(f.db);
    for (nlohmann::json& s : doc["sweeps"]) {
      auto it = cut.find(s["sweep"].get<std::string>());
      s["prompt_truncated"] = it != cut.end() ? it->second : 0;
    }
    std::printf("%s\n", doc.dump(2).c_str());
    return 0;
  }
  if (by_sweep.empty()) std::printf("no sweeps in %s\n", f.db.c_str());
  const std::map<std::string, int64_t> cut = PromptTruncated(f.db);
  for (const auto& [sweep, list] : by_sweep) {
    std::printf("%-44s %8s %7s %7s %8s %6s %5s %7s %10s %10s\n", ("sweep " + sweep).c_str(),
                "total", "pending", "leased", "done", "failed", "dead", "correct", "rate", "eta");
    Totals all;
    for (const auto& r : list) {
      Totals t;
      t.Add(r);
      all.Add(r);
      PrintLine(("  " + r.model + " / " + r.method).c_str(), t);
    }
    PrintLine("  all", all);
    if (auto it = cut.find(sweep); it != cut.end()) {
      std::printf("  prompt_truncated %lld calls: the server cut the prompt (docs/llm.md)\n",
                  static_cast<long long>(it->second));
    }
  }
  PrintRateLimits(**store);
  PrintWorkers(f.db);
  return 0;
}

int RunStatus(const StatusFlags& f) {
  if (!f.watch) return ShowOnce(f);
  for (;;) {
    std::printf("\033[H\033[2J");
    int rc = ShowOnce(f);
    if (rc != 0) return rc;
    std::fflush(stdout);
    std::this_thread::sleep_for(std::chrono::milliseconds(static_cast<int>(f.interval_s * 1000)));
  }
}

}  // namespace

CommandAction SetupStatusCommand(CLI::App& sub) {
  auto flags = std::make_shared<StatusFlags>();
  sub.add_option("--db", flags->db, "Database file")->required();
  sub.add_option("--sweep", flags->sweep, "Only this sweep");
  sub.add_flag("--json", flags->json, "Machine-readable output");
  sub.add_flag("--watch", flags->watch, "Refresh until interrupted");
  sub.add_option("--interval", flags->interval_s, "Seconds between refreshes with --watch");
  return [flags] { return RunStatus(*flags); };
}

}  // namespace codesweep
