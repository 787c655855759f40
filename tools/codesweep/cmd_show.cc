// `codesweep show CELL --db FILE`: one cell's whole trajectory (prompts, replies, code, execution
// output, verdict and why). CELL is a cell key, a unique prefix of one, or a job id. Read-only.
#include <cstdio>
#include <memory>
#include <string>

#include "coordinator/store/report_queries.h"
#include "report/show.h"
#include "tools/codesweep/cli_common.h"
#include "tools/codesweep/commands.h"

namespace codesweep {

namespace {

struct ShowFlags {
  std::string cell;
  std::string db;
  size_t max_chars = 0;
};

int RunShow(const ShowFlags& f) {
  Result<std::unique_ptr<ReportDb>> db = ReportDb::Open(f.db);
  if (!db.ok()) return PrintError("show", db.status());
  Result<std::vector<int64_t>> jobs = (*db)->FindJobs(f.cell, 5);
  if (!jobs.ok()) return PrintError("show", jobs.status());
  if (jobs->empty()) return PrintError("show", Status::NotFound("no cell or job '" + f.cell + "'"));
  if (jobs->size() > 1) {
    std::string ids;
    for (int64_t id : *jobs) ids += " " + std::to_string(id);
    return PrintError(
        "show", Status::InvalidArgument("'" + f.cell + "' is ambiguous; matching jobs:" + ids +
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
  sub.add_option("cell", flags->cell, "Cell key, unique prefix of one, or job id")->required();
  sub.add_option("--db", flags->db, "Database file")->required();
  sub.add_option("--max-chars", flags->max_chars,
                 "Truncate each prompt, reply and output to this many characters (0 = all)");
  return [flags] { return RunShow(*flags); };
}

}  // namespace codesweep
