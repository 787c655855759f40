// `codesweep retry SWEEP.toml [--db FILE] [--state failed|dead|all] [--task T] [--model M]
// [--method X] [--error-like TEXT] [--dry-run | --no-run]`: puts the matching failed and dead
// cells back to pending with fresh attempt counts (their old attempts and calls stay as history)
// and runs them as `run` does, with the sweep file's current settings. --dry-run only counts.
// --connect tcp://HOST:PORT: a coordinator already serves the database; the cells are put back
// and that coordinator is told (WAKE), so it dispatches them at once instead of running them here.
#include <algorithm>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "coordinator/store/store.h"
#include "tools/codesweep/cli_common.h"
#include "tools/codesweep/commands.h"
#include "tools/codesweep/coord_client.h"

namespace codesweep {

namespace {

struct RetryFlags {
  std::string state = "all";  // failed, dead or all
  std::string task, model, method, error_like;
  bool dry_run = false;
  bool no_run = false;
  CoordClientOptions client;  // --connect: the running coordinator to wake
  RetryFilter Filter() const {
    RetryFilter f;
    if (state == "failed") f.states = {JobState::kFailed};
    if (state == "dead") f.states = {JobState::kDead};
    f.task = task;
    f.model = model;
    f.method = method;
    f.error_like = error_like;
    return f;
  }
  // "failed and dead cells of task T, ..." for messages.
  std::string Describe() const {
    std::string out = state == "all" ? "failed and dead cells" : state + " cells";
    if (!task.empty()) out += " of task " + task;
    if (!model.empty()) out += " of model " + model;
    if (!method.empty()) out += " of method " + method;
    if (!error_like.empty()) out += " whose error contains \"" + error_like + "\"";
    return out;
  }
};

int Fail(const Status& s) { return PrintError("retry", s); }

// A filter naming something the sweep does not have matches nothing: say so instead.
Status CheckNames(const RetryFlags& f, const SweepConfig& c) {
  auto known = [](const std::string& want, const std::vector<std::string>& names,
                  const char* what) -> Status {
    if (want.empty() || std::find(names.begin(), names.end(), want) != names.end()) {
      return Status::OK();
    }
    std::string list;
    for (const std::string& n : names) list += (list.empty() ? "" : ", ") + n;
    return Status::InvalidArgument(
        Str("the sweep has no ", what, " \"", want, "\" (it has: ", list, ")"));
  };
  std::vector<std::string> tasks, models;
  for (const TaskConfig& t : c.tasks) tasks.push_back(t.name);
  for (const ModelConfig& m : c.models) models.push_back(m.spec.id);
  CS_RETURN_IF_ERROR(known(f.task, tasks, "task"));
  CS_RETURN_IF_ERROR(known(f.model, models, "model"));
  return known(f.method, c.methods, "method");
}

// The sweep's id in an existing database, opened read-only.
Result<int64_t> FindSweep(Store& store, const std::string& name, const std::string& db) {
  CS_ASSIGN_OR_RETURN(auto sweeps, store.ListSweeps());
  for (const auto& [id, rec] : sweeps) {
    if (rec.name == name) return id;
  }
  return Status::NotFound(Str("sweep ", name, " is not in ", db, ": run it first"));
}

// Checks the filter against the sweep file; with --dry-run counts the matching cells without
// writing anything and ends the command.
std::optional<int> BeforeLoad(const RetryFlags& f, const std::string& sweep_file,
                              const std::string& db) {
  Result<std::unique_ptr<TaskRegistry>> tasks = LoadTasks("");
  if (!tasks.ok()) return Fail(tasks.status());
  Result<SweepConfig> config = LoadSweepFile(sweep_file, **tasks);
  if (!config.ok()) return Fail(config.status());
  if (Status s = CheckNames(f, *config); !s.ok()) return Fail(s);
  if (!f.dry_run) return std::nullopt;
  StoreOptions ro;
  ro.read_only = true;
  Result<std::unique_ptr<Store>> store = Store::Open(db, ro);
  if (!store.ok()) return Fail(store.status());
  Result<int64_t> sweep = FindSweep(**store, config->name, db);
  if (!sweep.ok()) return Fail(sweep.status());
  Result<int64_t> n = (*store)->CountRetryable(*sweep, f.Filter());
  if (!n.ok()) return Fail(n.status());
  std::printf("%lld %s match in sweep %s (dry run: nothing changed)\n", static_cast<long long>(*n),
              f.Describe().c_str(), config->name.c_str());
  return 0;
}

std::optional<int> BeforeServe(const RetryFlags& f, Store& store, int64_t sweep_id) {
  Result<int64_t> n = store.RetryCells(sweep_id, f.Filter());
  if (!n.ok()) return Fail(n.status());
  if (*n == 0) {
    std::printf("no %s: nothing to retry\n", f.Describe().c_str());
    return 0;
  }
  std::printf("retry: %lld %s are pending again\n", static_cast<long long>(*n),
              f.Describe().c_str());
  if (!f.client.connect.empty()) {
    if (Result<SubmittedMsg> woke = AskCoordinator(f.client, WakeMsg{}); !woke.ok()) {
      return PrintError("retry",
                        Status(woke.status().code(),
                               Str("the cells are pending in the database, but the coordinator "
                                   "was not told (it finds them on its next idle re-read): ",
                                   woke.status().message())));
    }
    std::printf("the coordinator at %s dispatches them now\n", f.client.connect.c_str());
    return 0;
  }
  if (f.no_run) {
    std::printf("run them with `codesweep run` or a coordinator on this database\n");
    return 0;
  }
  std::fflush(stdout);
  return std::nullopt;
}

}  // namespace

CommandAction SetupRetryCommand(CLI::App& sub) {
  auto f = std::make_shared<RetryFlags>();
  sub.add_option("--state", f->state, "Which cells: failed, dead or all")
      ->check(CLI::IsMember({"failed", "dead", "all"}))
      ->capture_default_str();
  sub.add_option("--task", f->task, "Only cells of this task");
  sub.add_option("--model", f->model, "Only cells of this model id (e.g. openai:gpt-4o)");
  sub.add_option("--method", f->method, "Only cells of this method");
  sub.add_option("--error-like", f->error_like,
                 "Only cells whose last error contains this text (case-insensitive)");
  auto* dry = sub.add_flag("--dry-run", f->dry_run, "Count the matching cells; change nothing");
  auto* no_run =
      sub.add_flag("--no-run", f->no_run, "Put the cells back to pending but do not run them")
          ->excludes(dry);
  sub.add_option("--connect", f->client.connect,
                 "A coordinator serving this database: it dispatches the cells at once "
                 "(instead of running them here)")
      ->excludes(dry)
      ->excludes(no_run);
  AddCoordClientFlags(sub, &f->client);
  RunHooks hooks;
  hooks.cell_filter_flags = false;  // --task/--model/--method above select the cells to retry
  hooks.before_load = [f](const std::string& sweep_file, const std::string& db) {
    return BeforeLoad(*f, sweep_file, db);
  };
  hooks.before_serve = [f](Store& store, int64_t sweep_id) {
    return BeforeServe(*f, store, sweep_id);
  };
  return SetupRunFlags(sub, std::move(hooks));
}

}  // namespace codesweep
