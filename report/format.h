// Text renderings of SweepReports: Markdown (tables as in the paper), CSV (one tidy long table:
// table, sweep, model, task, method, complexity, metric, value) and JSON (nested). Pure
// functions; any thread. report_html.h renders the HTML page.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "report/report.h"

namespace codesweep {

// A rendered table (title, one-line note naming its views, header, rows of text cells), shared
// by the Markdown and HTML renderings.
struct TextTable {
  std::string title, note;
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;
};
std::vector<TextTable> ReportTables(const SweepReport& report);

std::string FormatMarkdown(const std::vector<SweepReport>& reports);
std::string FormatCsv(const std::vector<SweepReport>& reports);
nlohmann::json ReportJson(const SweepReport& report);
std::string FormatJson(const std::vector<SweepReport>& reports);

// "last run by codesweep 0.2.0 (git abc) on host, sweep file sha256 ..., 2 run(s) in all".
std::string RunProvenance(const RunRow& run);

// "12.3" (one decimal, as in the paper); "NA" for nullopt.
std::string Fixed(double value, int decimals = 1);

}  // namespace codesweep
