// The self-contained HTML report: the report tables plus Vega-Lite charts (success and code usage
// vs complexity, normalized score vs tokens and vs runtime, Table 2 as bars), with the vendored
// Vega, Vega-Lite and vega-embed inlined so the file opens offline. Pure rendering from values
// and the asset texts; LoadHtmlAssets reads report/ once. Any thread.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "base/status.h"
#include "report/report.h"

namespace codesweep {

struct HtmlAssets {
  std::string template_html;                         // report/report.html.in
  std::string vega_js, vega_lite_js, vega_embed_js;  // report/vendor/*.min.js
};

// The source tree's report/ (where the vendored files live).
std::string DefaultReportAssetsDir();
Result<HtmlAssets> LoadHtmlAssets(const std::string& dir);

// The Vega-Lite specs of one sweep's charts: [{"id": ..., "title": ..., "spec": {...}}, ...].
nlohmann::json ChartSpecs(const SweepReport& report, int sweep_index);

std::string RenderHtml(const std::vector<SweepReport>& reports, const HtmlAssets& assets,
                       const std::string& title);

}  // namespace codesweep
