// HTML report rendering; see report_html.h.
#include "report/html.h"

#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <map>
#include <sstream>

#include "report/format.h"

namespace codesweep {

namespace {

using nlohmann::json;

std::string Escape(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

// JSON placed inside <script>: "</" would end the element early; "<\/" is the same JSON string.
std::string JsonScriptSafe(std::string s) {
  for (size_t at = s.find("</"); at != std::string::npos; at = s.find("</", at + 3)) {
    s.replace(at, 2, "<\\/");
  }
  return s;
}

// JavaScript placed inside <script>: only "</script" (any case) ends the element. The vendored
// bundles contain none; should one appear inside a string, "<\/script" is the same string.
std::string JsScriptSafe(std::string s) {
  for (size_t at = 0; (at = s.find("</", at)) != std::string::npos; at += 2) {
    std::string next = s.substr(at + 2, 6);
    for (char& c : next) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (next == "script") s.replace(at, 2, "<\\/");
  }
  return s;
}

// One pass over the template: each @NAME@ with a value in `values` is replaced, so text inside a
// substituted value is never scanned again.
std::string Substitute(const std::string& text, const std::map<std::string, std::string>& values) {
  std::string out;
  out.reserve(text.size());
  size_t pos = 0;
  while (pos < text.size()) {
    size_t at = text.find('@', pos);
    size_t end = at == std::string::npos ? at : text.find('@', at + 1);
    if (end == std::string::npos) break;
    auto it = values.find(text.substr(at + 1, end - at - 1));
    if (it == values.end()) {
      out.append(text, pos, end - pos);
      pos = end;
      continue;
    }
    out.append(text, pos, at - pos);
    out += it->second;
    pos = end + 1;
  }
  out.append(text, pos);
  return out;
}

Result<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound("cannot read " + path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string TableHtml(const TextTable& t) {
  std::ostringstream out;
  out << "<h3>" << Escape(t.title) << "</h3>\n<p class=\"note\">" << Escape(t.note)
      << "</p>\n<div class=\"scroll\"><table>\n<tr>";
  for (const std::string& h : t.header) out << "<th>" << Escape(h) << "</th>";
  out << "</tr>\n";
  for (const auto& row : t.rows) {
    out << "<tr>";
    for (const std::string& c : row) out << "<td>" << Escape(c) << "</td>";
    out << "</tr>\n";
  }
  out << "</table></div>\n";
  return out.str();
}

// `n` colours, none used twice: evenly spread hues (golden-angle steps) in three lightness bands,
// so 16+ methods stay distinguishable. Deterministic.
json DistinctColors(size_t n) {
  json out = json::array();
  for (size_t i = 0; i < n; ++i) {
    const double hue = std::fmod(static_cast<double>(i) * 137.508, 360.0);
    const int lightness = i % 3 == 0 ? 42 : i % 3 == 1 ? 58 : 32;
    char buf[40];
    std::snprintf(buf, sizeof buf, "hsl(%.0f, 70%%, %d%%)", hue, lightness);
    out.push_back(buf);
  }
  return out;
}

// Colour by method over the sweep's methods in grid order: the same method has the same colour in
// every chart and no two methods share one.
json MethodColor(const SweepReport& r) {
  return {{"field", "method"},
          {"type", "nominal"},
          {"sort", r.methods},
          {"scale", {{"domain", r.methods}, {"range", DistinctColors(r.methods.size())}}}};
}

json ComplexitySpec(const SweepReport& r, const std::string& field, const std::string& label) {
  const bool success = field == "success";
  json values = json::array();
  for (const ComplexityPoint& p : r.complexity) {
    values.push_back({{"model", DisplayModel(p.model)},
                      {"task", p.task},
                      {"method", p.method},
                      {"complexity", p.complexity},
                      {"order", p.order},
                      {"n", p.n},
                      {"value", success ? p.success_pct : p.code_used_pct},
                      {"lo", p.success_lo_pct},
                      {"hi", p.success_hi_pct}});
  }
  json encoding = {{"x",
                    {{"field", "complexity"},
                     {"type", "ordinal"},
                     {"title", "complexity"},
                     {"sort", {{"field", "order"}, {"op", "min"}}}}},
                   {"y",
                    {{"field", "value"},
                     {"type", "quantitative"},
                     {"title", label},
                     {"scale", {{"domain", {0, 100}}}}}},
                   {"color", MethodColor(r)},
                   {"tooltip", json::array({{{"field", "method"}},
                                            {{"field", "complexity"}},
                                            {{"field", "value"}, {"format", ".1f"}},
                                            {{"field", "n"}}})}};
  json layers = json::array({{{"mark", {{"type", "line"}, {"point", true}}}}});
  if (success) {  // the 95 % Wilson interval of every point
    layers.push_back({{"mark", {{"type", "errorbar"}, {"ticks", false}}},
                      {"encoding",
                       {{"y", {{"field", "lo"}, {"type", "quantitative"}, {"title", label}}},
                        {"y2", {{"field", "hi"}}}}}});
  }
  return {{"$schema", "https://vega.github.io/schema/vega-lite/v5.json"},
          {"data", {{"values", values}}},
          {"facet",
           {{"row", {{"field", "task"}, {"type", "nominal"}}},
            {"column", {{"field", "model"}, {"type", "nominal"}}}}},
          {"resolve", {{"scale", {{"x", "independent"}}}}},
          {"spec", {{"width", 260}, {"height", 160}, {"encoding", encoding}, {"layer", layers}}}};
}

json ScoreCostSpec(const SweepReport& r) {
  json values = json::array();
  for (const MethodCost& c : r.method_cost) {
    if (!c.avg_norm_pct) continue;
    values.push_back({{"model", DisplayModel(c.model)},
                      {"method", c.method},
                      {"score", *c.avg_norm_pct},
                      {"tokens", c.tokens_per_sample},
                      {"runtime", c.runtime_s_per_sample}});
  }
  auto panel = [&r](const std::string& field, const std::string& title) {
    return json{{"width", 320},
                {"height", 240},
                {"mark", {{"type", "point"}, {"filled", true}, {"size", 80}}},
                {"encoding",
                 {{"x", {{"field", field}, {"type", "quantitative"}, {"title", title}}},
                  {"y",
                   {{"field", "score"},
                    {"type", "quantitative"},
                    {"title", "average normalized score (%)"},
                    {"scale", {{"zero", false}}}}},
                  {"color", MethodColor(r)},
                  {"shape", {{"field", "model"}, {"type", "nominal"}}},
                  {"tooltip", json::array({{{"field", "method"}},
                                           {{"field", "model"}},
                                           {{"field", "score"}, {"format", ".1f"}},
                                           {{"field", field}, {"format", ".1f"}}})}}}};
  };
  return {{"$schema", "https://vega.github.io/schema/vega-lite/v5.json"},
          {"data", {{"values", values}}},
          {"hconcat",
           {panel("tokens", "tokens per sample"), panel("runtime", "runtime per sample (s)")}}};
}

json Table2Spec(const SweepReport& r) {
  json values = json::array();
  for (const ModelTable& t : r.table1) {
    for (const auto& [method, v] : t.avg_norm) {
      values.push_back({{"model", DisplayModel(t.model)}, {"method", method}, {"score", v}});
    }
  }
  return {
      {"$schema", "https://vega.github.io/schema/vega-lite/v5.json"},
      {"data", {{"values", values}}},
      {"width", 520},
      {"height", {{"step", 14}}},
      {"mark", "bar"},
      {"encoding",
       {{"y", {{"field", "method"}, {"type", "nominal"}, {"sort", r.methods}}},
        {"yOffset", {{"field", "model"}, {"type", "nominal"}}},
        {"x",
         {{"field", "score"}, {"type", "quantitative"}, {"title", "average normalized score (%)"}}},
        {"color", {{"field", "model"}, {"type", "nominal"}}},
        {"tooltip", json::array({{{"field", "method"}},
                                 {{"field", "model"}},
                                 {{"field", "score"}, {"format", ".1f"}}})}}}};
}

std::string UtcTime(int64_t ms) {
  const std::time_t t = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[40];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S UTC", &tm);
  return buf;
}

// Where the numbers come from: the sweep file as written (seeds, models and their settings), its
// path and times, and the codesweep version that drew the report.
std::string ProvenanceHtml(const SweepReport& r) {
  std::ostringstream out;
  out << "<details class=\"provenance\"><summary>Provenance</summary>\n<p class=\"note\">";
  if (r.source) {
    out << "Sweep file " << Escape(r.source->source_path.empty() ? "(none)" : r.source->source_path)
        << ", seed " << r.source->seed << ", created " << UtcTime(r.source->created_ms)
        << ", last loaded " << UtcTime(r.source->updated_ms) << ". ";
  }
  if (r.last_run) out << "Provenance: " << Escape(RunProvenance(*r.last_run)) << ". ";
  if (!r.filter.empty()) out << "Only the cells with " << Escape(r.filter) << ". ";
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  out << "Report drawn by codesweep " << CODESWEEP_VERSION << " at "
      << UtcTime(std::chrono::duration_cast<std::chrono::milliseconds>(now).count()) << ".</p>\n";
  if (r.source && !r.source->source_text.empty()) {
    out << "<pre>" << Escape(r.source->source_text) << "</pre>\n";
  }
  out << "</details>\n";
  return out.str();
}

}  // namespace

std::string DefaultReportAssetsDir() { return std::string(CODESWEEP_SOURCE_DIR) + "/report"; }

Result<HtmlAssets> LoadHtmlAssets(const std::string& dir) {
  HtmlAssets a;
  CS_ASSIGN_OR_RETURN(a.template_html, ReadFile(dir + "/report.html.in"));
  CS_ASSIGN_OR_RETURN(a.vega_js, ReadFile(dir + "/vendor/vega.min.js"));
  CS_ASSIGN_OR_RETURN(a.vega_lite_js, ReadFile(dir + "/vendor/vega-lite.min.js"));
  CS_ASSIGN_OR_RETURN(a.vega_embed_js, ReadFile(dir + "/vendor/vega-embed.min.js"));
  return a;
}

json ChartSpecs(const SweepReport& r, int sweep_index) {
  json out = json::array();
  const std::string prefix = "chart-" + std::to_string(sweep_index) + "-";
  if (!r.table1.empty()) {
    out.push_back({{"id", prefix + "table2"},
                   {"title", "Average normalized score by method and model"},
                   {"spec", Table2Spec(r)}});
  }
  if (!r.complexity.empty()) {
    out.push_back({{"id", prefix + "success"},
                   {"title", "Success rate vs complexity"},
                   {"spec", ComplexitySpec(r, "success", "success (%)")}});
    out.push_back({{"id", prefix + "code"},
                   {"title", "Code usage vs complexity"},
                   {"spec", ComplexitySpec(r, "code", "cells that used code (%)")}});
  }
  if (!r.method_cost.empty()) {
    out.push_back({{"id", prefix + "cost"},
                   {"title", "Score vs cost (tokens and runtime per sample)"},
                   {"spec", ScoreCostSpec(r)}});
  }
  return out;
}

std::string RenderHtml(const std::vector<SweepReport>& reports, const HtmlAssets& assets,
                       const std::string& title) {
  std::ostringstream body;
  json specs = json::array();
  for (size_t i = 0; i < reports.size(); ++i) {
    const SweepReport& r = reports[i];
    body << "<h2>Sweep " << Escape(r.sweep) << " (" << r.cells << " finished cells)</h2>\n";
    body << ProvenanceHtml(r);
    for (const json& c : ChartSpecs(r, static_cast<int>(i))) {
      body << "<h3>" << Escape(c["title"].get<std::string>()) << "</h3>\n<div class=\"chart\" id=\""
           << c["id"].get<std::string>() << "\"></div>\n";
      specs.push_back(c);
    }
    for (const TextTable& t : ReportTables(r)) body << TableHtml(t);
  }
  if (reports.empty()) body << "<p>No finished cells.</p>\n";
  return Substitute(
      assets.template_html,
      {{"TITLE", Escape(title)},
       {"BODY", body.str()},
       {"VEGA_VERSION", "5.33.1"},
       {"VEGA_LITE_VERSION", "5.23.0"},
       {"SPECS_JSON", JsonScriptSafe(specs.dump(-1, ' ', false, json::error_handler_t::replace))},
       {"VEGA_JS", JsScriptSafe(assets.vega_js)},
       {"VEGA_LITE_JS", JsScriptSafe(assets.vega_lite_js)},
       {"VEGA_EMBED_JS", JsScriptSafe(assets.vega_embed_js)}});
}

}  // namespace codesweep
