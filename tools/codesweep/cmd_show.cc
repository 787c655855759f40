// `codesweep show [SWEEP.toml] CELL [--db FILE]`: one cell's whole trajectory (prompts, replies,
// code, execution output, the expected answer beside the model's, the verdict and why). CELL is
// a cell key, a unique prefix of one, or a job id; --task/--model/--method narrow the match, and
// without CELL list the cells they admit. Read-only.
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "coordinator/store/report_queries.h"
#include "report/show.h"
#include "tools/codesweep/cli_common.h"
#include "tools/codesweep/commands.h"

namespace codesweep {

namespace {

constexpr int kListLimit = 20;  // cells listed when the arguments match several

struct ShowFlags {
  std::vector<std::string> args;  // [SWEEP.toml] [CELL], in either order
  ReadDb target;
  ReadFilter filter;
  size_t max_chars = 0;
};

bool IsDbSource(const std::string& arg) {
  const std::string ext = std::filesystem::path(arg).extension().string();
  return ext == ".toml" || ext == ".db" || ext == ".sqlite";
}

// One line per matching cell: id, key prefix, where it sits in the grid, its state and verdict.
int ListCells(ReportDb& db, const std::vector<int64_t>& jobs) {
  std::printf("%zu%s cells match; show one of them by job id or cell key:\n", jobs.size(),
              jobs.size() >= static_cast<size_t>(kListLimit) ? "+" : "");
  for (int64_t id : jobs) {
    Result<Trajectory> t = db.LoadTrajectory(id);
    if (!t.ok()) continue;
    const char* verdict = !t->verdict ? "-" : (t->verdict->correct ? "correct" : "wrong");
    std::printf("  %8lld  %.12s  %s %s #%lld  %s / %s  %s %s\n", static_cast<long long>(id),
                t->cell_key.c_str(), t->task.c_str(),
                t->complexity.empty() ? "-" : t->complexity.c_str(),
                static_cast<long long>(t->sample), t->model.c_str(), t->method.c_str(),
                t->state.c_str(), verdict);
  }
  return 0;
}

int RunShow(ShowFlags f) {
  std::string cell;
  for (const std::string& a : f.args) {
    if (IsDbSource(a) && f.target.sweep_file.empty()) {
      f.target.sweep_file = a;
    } else if (cell.empty()) {
      cell = a;
    } else {
      return PrintError(
          "show", Status::InvalidArgument("give one cell, not '" + cell + "' and '" + a + "'"), 2);
    }
  }
  if (cell.empty() && f.filter.empty()) {
    return PrintError("show",
                      Status::InvalidArgument("give a cell (key, key prefix or job id) "
                                              "or --task/--model/--method to list cells"),
                      2);
  }
  Result<std::string> path = ResolveReadDb(f.target);
  if (!path.ok()) return PrintError("show", path.status());
  Result<std::unique_ptr<ReportDb>> db = ReportDb::Open(*path);
  if (!db.ok()) return PrintError("show", db.status());
  const int limit = cell.empty() ? kListLimit : 5;
  Result<std::vector<int64_t>> jobs = (*db)->FindJobs(cell, limit, f.filter);
  if (!jobs.ok()) return PrintError("show", jobs.status());
  if (jobs->empty()) {
    return PrintError(
        "show",
        Status::NotFound(cell.empty() ? "no cell matches the filters"
                                      : "no cell or job '" + cell + "'" +
                                            (f.filter.empty() ? "" : " matches the filters")));
  }
  if (cell.empty()) return ListCells(**db, *jobs);
  if (jobs->size() > 1) {
    std::string ids;
    for (int64_t id : *jobs) ids += " " + std::to_string(id);
    return PrintError("show",
                      Status::InvalidArgument("'" + cell + "' is ambiguous; matching jobs:" + ids +
                                              (jobs->size() == 5 ? " ..." : "")));
  }
  Result<Trajectory> t = (*db)->LoadTrajectory(jobs->front());
  if (!t.ok()) return PrintError("show", t.status());
  ShowOptions options;
  options.max_field_chars = f.max_chars;
  std::string text = FormatTrajectory(*t, options);
  std::fwrite(text.data(), 1, text.size(), stdout);
  return 0;
}

}  // namespace

CommandAction SetupShowCommand(CLI::App& sub) {
  auto flags = std::make_shared<ShowFlags>();
  sub.add_option("args", flags->args,
                 "[SWEEP.toml] CELL: the sweep file (its database, as `run`) and a cell key, "
                 "unique prefix of one, or job id")
      ->expected(0, 2);
  AddReadDbOptions(sub, &flags->target, /*positional=*/false);
  AddReadFilterOptions(sub, &flags->filter);
  sub.add_option("--max-chars", flags->max_chars,
                 "Truncate each prompt, reply and output to this many characters (0 = all)");
  return [flags] { return RunShow(*flags); };
}

}  // namespace codesweep
