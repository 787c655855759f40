// `codesweep batches [list] [SWEEP] [--db FILE]` lists the provider batches of a database (or of
// one sweep); `codesweep batches cancel SWEEP [--db FILE]` cancels the sweep's open batches at the
// provider (batch mode, docs/batch.md). SWEEP is a sweep file (its database is the one `run` uses,
// unless --db) or a sweep's name. Cancel writes to the database (the request is committed before
// the provider is asked) and may run beside a coordinator; list opens it read-only.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "base/clock.h"
#include "base/log.h"
#include "coordinator/batch_manager.h"
#include "coordinator/store/store.h"
#include "coordinator/sweep/sweep_file.h"
#include "jobs/tasks/task.h"
#include "tools/codesweep/cli_common.h"
#include "tools/codesweep/commands.h"

namespace codesweep {

namespace {

struct BatchesFlags {
  std::vector<std::string> args;  // [list|cancel] [SWEEP]
  std::string action = "list";
  std::string sweep;  // a sweep file or a sweep name
  std::string db;
  int64_t limit = 50;
};

int Fail(const Status& s) {
  std::fprintf(stderr, "codesweep batches: %s\n", s.message().c_str());
  return 1;
}

bool IsSweepFile(const std::string& s) { return std::filesystem::path(s).extension() == ".toml"; }

// The database to open and the sweep's name ("" = every sweep, for list).
Result<std::pair<std::string, std::string>> Target(const BatchesFlags& f) {
  ReadDb target;
  target.db = f.db;
  std::string name = f.sweep;
  if (IsSweepFile(f.sweep)) {
    target.sweep_file = f.sweep;
    CS_ASSIGN_OR_RETURN(std::unique_ptr<TaskRegistry> tasks, LoadTasks(""));
    CS_ASSIGN_OR_RETURN(SweepConfig config, LoadSweepFile(f.sweep, *tasks));
    name = config.name;
  } else if (f.db.empty()) {
    return Status::InvalidArgument("give a sweep file, or a sweep name with --db FILE");
  }
  CS_ASSIGN_OR_RETURN(std::string db, ResolveReadDb(target));
  return std::make_pair(db, name);
}

Result<int64_t> SweepId(Store& store, const std::string& name, const std::string& db) {
  CS_ASSIGN_OR_RETURN(auto sweeps, store.ListSweeps());
  for (const auto& [id, rec] : sweeps) {
    if (rec.name == name) return id;
  }
  return Status::NotFound(Str("sweep ", name, " is not in ", db));
}

int64_t WallMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string Age(int64_t ms) {
  const int64_t s = ms / 1000;
  char buf[32];
  std::snprintf(buf, sizeof buf, "%lldh%02lldm%02llds", static_cast<long long>(s / 3600),
                static_cast<long long>(s / 60 % 60), static_cast<long long>(s % 60));
  return buf;
}

int List(const BatchesFlags& f) {
  if (f.sweep.empty() && f.db.empty()) return Fail(Status::InvalidArgument("give --db FILE"));
  std::string db = f.db, name;
  if (!f.sweep.empty()) {
    Result<std::pair<std::string, std::string>> t = Target(f);
    if (!t.ok()) return Fail(t.status());
    std::tie(db, name) = *t;
  }
  StoreOptions ro;
  ro.read_only = true;
  Result<std::unique_ptr<Store>> store = Store::Open(db, ro);
  if (!store.ok()) return Fail(store.status());
  int64_t sweep_id = 0;
  if (!name.empty()) {
    Result<int64_t> id = SweepId(**store, name, db);
    if (!id.ok()) return Fail(id.status());
    sweep_id = *id;
  }
  Result<std::vector<BatchRow>> rows = (*store)->ListBatches(sweep_id, f.limit);
  if (!rows.ok()) return Fail(rows.status());
  if (rows->empty()) {
    std::printf("no batches in %s\n", db.c_str());
    return 0;
  }
  const int64_t now = WallMs();
  std::printf("%6s %-32s %-28s %12s %17s %-12s %10s\n", "batch", "provider id", "model", "age",
              "done/failed/total", "state", "cost $");
  for (const BatchRow& b : *rows) {
    const int64_t end = b.ended_ms > 0 ? b.ended_ms : now;
    const std::string state = b.live() && b.cancel_requested_ms > 0 ? "cancelling" : b.state;
    std::printf("%6lld %-32s %-28s %12s %5lld/%5lld/%5lld %-12s %10.4f\n",
                static_cast<long long>(b.id), b.provider_id.empty() ? "-" : b.provider_id.c_str(),
                (b.provider + ":" + b.model).c_str(), Age(end - b.created_ms).c_str(),
                static_cast<long long>(b.n_done), static_cast<long long>(b.n_failed),
                static_cast<long long>(b.n_requests), state.c_str(), b.cost_usd);
  }
  return 0;
}

int Cancel(const BatchesFlags& f) {
  if (f.sweep.empty()) return Fail(Status::InvalidArgument("batches cancel takes a SWEEP"));
  Result<std::pair<std::string, std::string>> t = Target(f);
  if (!t.ok()) return Fail(t.status());
  const auto& [db, name] = *t;
  StoreOptions so;
  so.create = false;
  Result<std::unique_ptr<Store>> store = Store::Open(db, so);
  if (!store.ok()) return Fail(store.status());
  Result<int64_t> sweep_id = SweepId(**store, name, db);
  if (!sweep_id.ok()) return Fail(sweep_id.status());
  SystemClock clock;
  Logger log(stderr, LogLevel::kWarn, "batches");
  BatchManagerOptions bo;
  bo.get_secret = [](const std::string& var) -> std::optional<std::string> {
    const char* v = std::getenv(var.c_str());
    if (v == nullptr) return std::nullopt;
    return std::string(v);
  };
  BatchManager batches(**store, clock, log, std::move(bo));
  Result<std::vector<BatchCancel>> done = batches.CancelLive(*sweep_id);
  if (!done.ok()) return Fail(done.status());
  if (done->empty()) {
    std::printf("sweep %s has no open batches\n", name.c_str());
    return 0;
  }
  int failed = 0;
  for (const BatchCancel& c : *done) {
    const std::string id = c.batch.provider_id.empty() ? "(not created yet)" : c.batch.provider_id;
    if (c.provider.ok()) {
      std::printf("batch %lld %s: cancelled\n", static_cast<long long>(c.batch.id), id.c_str());
    } else {
      ++failed;
      std::printf(
          "batch %lld %s: cancel recorded; the provider refused it now (%s): the "
          "coordinator asks again when it polls the batch\n",
          static_cast<long long>(c.batch.id), id.c_str(), c.provider.message().c_str());
    }
  }
  std::printf(
      "%zu batch(es) of sweep %s cancelled. When a coordinator sees them end, their answered "
      "requests are kept and the cells waiting for the others end failed; `codesweep retry` "
      "runs those again.\n",
      done->size(), name.c_str());
  return failed > 0 ? 1 : 0;
}

}  // namespace

CommandAction SetupBatchesCommand(CLI::App& sub) {
  auto flags = std::make_shared<BatchesFlags>();
  sub.add_option("args", flags->args,
                 "[list|cancel] SWEEP: list (default) or cancel the open batches of SWEEP, a "
                 "sweep file or a sweep's name with --db")
      ->expected(0, 2);
  sub.add_option("--db", flags->db, "Database file (default: the sweep file's, as `run`)");
  sub.add_option("--limit", flags->limit, "Most batches listed")->capture_default_str();
  return [flags]() -> int {
    std::vector<std::string> args = flags->args;
    if (!args.empty() && (args[0] == "list" || args[0] == "cancel")) {
      flags->action = args[0];
      args.erase(args.begin());
    }
    if (args.size() > 1) return Fail(Status::InvalidArgument("too many arguments"));
    if (!args.empty()) flags->sweep = args[0];
    return flags->action == "cancel" ? Cancel(*flags) : List(*flags);
  };
}

}  // namespace codesweep
