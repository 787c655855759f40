// `codesweep report [SWEEP.toml] [--db FILE] [--sweep NAME] [--task/--model/--method ...]
// [--format md|csv|json] [--html FILE]`: the paper's tables (success with Wilson CIs, average
// normalized score and rank), complexity curves and cost, from the views of
// report/sql/0002_report_views.sql. Read-only: safe beside a run.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "coordinator/store/report_queries.h"
#include "report/format.h"
#include "report/html.h"
#include "report/report.h"
#include "tools/codesweep/cli_common.h"
#include "tools/codesweep/commands.h"

namespace codesweep {

namespace {

struct ReportFlags {
  ReadDb target;
  std::string db;  // resolved from target
  std::string sweep;
  ReadFilter filter;
  std::string format;  // "" = md, or none with --html
  std::string html;
  std::string output;  // text output file; stdout when empty
  std::string assets;  // report/ folder (template + vendored JS)
  bool timing = false;
};

Status WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  if (!out) return Status::IoError("cannot write " + path);
  return Status::OK();
}

// Keeps the rows `filter` admits. Model cost rows have no task or method: a task or method
// filter keeps them whole (they are the model's calls in all).
void Filter(const ReadFilter& filter, std::vector<GrainRow>& grain, std::vector<ModelCostRow>& cost,
            std::vector<JobStateRow>& states) {
  if (filter.empty()) return;
  std::erase_if(grain,
                [&](const GrainRow& g) { return !filter.Matches(g.task, g.model, g.method); });
  std::erase_if(cost, [&](const ModelCostRow& c) { return !filter.MatchesModel(c.model); });
  std::erase_if(states, [&](const JobStateRow& j) {
    return !filter.MatchesModel(j.model) || !filter.MatchesMethod(j.method);
  });
}

std::string FilterText(const ReadFilter& filter) {
  std::string out;
  for (const auto& [name, value] : {std::pair<const char*, const std::string&>{"task", filter.task},
                                    {"model", filter.model},
                                    {"method", filter.method}}) {
    if (!value.empty()) out += std::string(out.empty() ? "" : " ") + name + "=" + value;
  }
  return out;
}

Result<std::vector<SweepReport>> LoadReports(const ReportFlags& f) {
  CS_ASSIGN_OR_RETURN(std::unique_ptr<ReportDb> db, ReportDb::Open(f.db));
  if (!f.sweep.empty()) {
    CS_ASSIGN_OR_RETURN(std::vector<std::string> names, db->SweepNames());
    bool found = false;
    for (const std::string& n : names) found = found || n == f.sweep;
    if (!found) return Status::NotFound("no sweep named '" + f.sweep + "' in " + f.db);
  }
  CS_ASSIGN_OR_RETURN(std::vector<GrainRow> grain, db->Grain(f.sweep));
  CS_ASSIGN_OR_RETURN(std::vector<ModelCostRow> cost, db->ModelCost(f.sweep));
  CS_ASSIGN_OR_RETURN(std::vector<JobStateRow> states, db->JobStates(f.sweep));
  CS_ASSIGN_OR_RETURN(std::vector<SweepSource> sources, db->SweepSources());
  CS_ASSIGN_OR_RETURN(std::vector<RunRow> runs, db->LatestRuns());
  Filter(f.filter, grain, cost, states);
  CS_ASSIGN_OR_RETURN(std::vector<RepeatRow> repeats, db->Repeats(f.sweep));
  CS_ASSIGN_OR_RETURN(std::vector<AnswerSourceRow> answer_sources, db->AnswerSources(f.sweep));
  CS_ASSIGN_OR_RETURN(std::vector<BatchCostRow> batch_cost, db->BatchCosts(f.sweep));
  std::erase_if(batch_cost, [&](const BatchCostRow& b) { return !f.filter.MatchesModel(b.model); });
  std::vector<SweepReport> reports = BuildReports(grain, cost, states);
  for (SweepReport& r : reports) {
    for (const SweepSource& s : sources) {
      if (s.name == r.sweep) r.source = s;
    }
    for (const RunRow& run : runs) {
      if (run.sweep == r.sweep) r.last_run = run;
    }
    r.filter = FilterText(f.filter);
    for (const RepeatRow& x : repeats) {
      if (x.sweep == r.sweep) r.repeats.push_back(x);
    }
    for (const AnswerSourceRow& a : answer_sources) {
      if (a.sweep == r.sweep) r.answer_sources.push_back(a);
    }
    for (const BatchCostRow& b : batch_cost) {
      if (b.sweep == r.sweep) r.batch_cost.push_back(b);
    }
  }
  return reports;
}

Result<std::string> FormatText(const std::vector<SweepReport>& reports, const std::string& fmt) {
  if (fmt == "md" || fmt == "markdown") return FormatMarkdown(reports);
  if (fmt == "csv") return FormatCsv(reports);
  if (fmt == "json") return FormatJson(reports);
  return Status::InvalidArgument("--format must be md, csv or json, not '" + fmt + "'");
}

int RunReport(ReportFlags f) {
  const auto start = std::chrono::steady_clock::now();
  Result<std::string> db = ResolveReadDb(f.target);
  if (!db.ok()) return PrintError("report", db.status());
  f.db = *db;
  Result<std::vector<SweepReport>> reports = LoadReports(f);
  if (!reports.ok()) return PrintError("report", reports.status());
  // --html alone writes the page only; a text format goes to stdout unless asked for elsewhere.
  const std::string format = f.format.empty() ? "md" : f.format;
  const bool print_text = f.html.empty() || !f.format.empty() || !f.output.empty();
  Result<std::string> text = FormatText(*reports, format);
  if (!text.ok()) return PrintError("report", text.status(), 2);
  if (!f.html.empty()) {
    Result<HtmlAssets> assets =
        LoadHtmlAssets(f.assets.empty() ? DefaultReportAssetsDir() : f.assets);
    if (!assets.ok()) return PrintError("report", assets.status());
    std::string title =
        "codesweep report: " +
        (f.sweep.empty() ? std::filesystem::path(f.db).filename().string() : f.sweep);
    Status s = WriteFile(f.html, RenderHtml(*reports, *assets, title));
    if (!s.ok()) return PrintError("report", s);
  }
  if (!f.output.empty()) {
    Status s = WriteFile(f.output, *text);
    if (!s.ok()) return PrintError("report", s);
  } else if (print_text) {
    std::fwrite(text->data(), 1, text->size(), stdout);
  }
  if (f.timing) {
    const double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    std::fprintf(stderr, "report: %.1f ms\n", ms);
  }
  return 0;
}

}  // namespace

CommandAction SetupReportCommand(CLI::App& sub) {
  auto flags = std::make_shared<ReportFlags>();
  AddReadDbOptions(sub, &flags->target);
  sub.add_option("--sweep", flags->sweep, "Only this sweep (default: every sweep)");
  AddReadFilterOptions(sub, &flags->filter);
  sub.add_option("--format", flags->format,
                 "Text output: md (default), csv or json; with --html only when given")
      ->check(CLI::IsMember({"md", "markdown", "csv", "json"}));
  sub.add_option("--html", flags->html,
                 "Write a self-contained HTML report here (and no text unless --format or -o)");
  sub.add_option("-o,--output", flags->output, "Write the text output here instead of stdout");
  sub.add_option("--assets", flags->assets,
                 "Folder with report.html.in and vendor/*.min.js (default: the source tree's "
                 "report/)");
  sub.add_flag("--timing", flags->timing, "Print how long the report took to stderr");
  return [flags] { return RunReport(*flags); };
}

}  // namespace codesweep
