// Markdown, CSV and JSON renderings of reports; see report_format.h.
#include "report/format.h"

#include <cstdio>
#include <sstream>

namespace codesweep {

namespace {

using nlohmann::json;

std::string Money(double usd) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4f", usd);
  return buf;
}

TextTable Table1(const SweepReport& r, const ModelTable& t) {
  TextTable out;
  out.title = "Table 1: success rate (%) by task and method, model " + DisplayModel(t.model);
  out.note =
      "Cells: success % [95 % Wilson CI] (n). Rows marked (score) show the mean partial "
      "score (%). Views: v_task_success, v_method_score.";
  out.header = {"Task"};
  out.header.insert(out.header.end(), r.methods.begin(), r.methods.end());
  for (const std::string& task : t.tasks) {
    std::vector<std::string> row = {task}, partial = {task + " (score)"};
    for (const std::string& m : r.methods) {
      auto it = t.cells.at(task).find(m);
      if (it == t.cells.at(task).end()) {
        row.push_back("NA");
        partial.push_back("NA");
        continue;
      }
      const TaskMethodCell& c = it->second;
      row.push_back(Fixed(c.success_pct) + " [" + Fixed(c.wilson_lo_pct) + ", " +
                    Fixed(c.wilson_hi_pct) + "] (" + std::to_string(c.n) + ")");
      partial.push_back(Fixed(c.mean_score_pct));
    }
    out.rows.push_back(row);
    for (const std::string& p : t.partial_tasks) {
      if (p == task) out.rows.push_back(partial);
    }
  }
  std::vector<std::string> norm = {"Ave. Norm."};
  for (const std::string& m : r.methods) {
    auto it = t.avg_norm.find(m);
    norm.push_back(it == t.avg_norm.end() ? "NA" : Fixed(it->second));
  }
  out.rows.push_back(norm);
  return out;
}

TextTable Table2(const SweepReport& r) {
  TextTable out;
  out.title = "Table 2: average normalized score (%) and average rank";
  out.note =
      "Normalized by the best method per task within each (model, turns) setting; ranks: ties "
      "share the better rank, a "
      "method not run on a model ranks tested+1. Views: v_method_score, v_method_summary.";
  out.header = {"Method"};
  for (const std::string& m : r.models) out.header.push_back(DisplayModel(m));
  out.header.push_back("Avg score");
  out.header.push_back("Avg rank");
  for (const MethodSummaryRow& s : r.table2) {
    std::vector<std::string> row = {s.method};
    for (const ModelTable& t : r.table1) {
      auto it = t.avg_norm.find(s.method);
      row.push_back(it == t.avg_norm.end() ? "NA" : Fixed(it->second));
    }
    row.push_back(s.avg_score_pct ? Fixed(*s.avg_score_pct) : "NA");
    row.push_back(Fixed(s.avg_rank, 2));
    out.rows.push_back(row);
  }
  return out;
}

TextTable ComplexityTable(const SweepReport& r) {
  TextTable out;
  out.title = "Complexity: success and code usage by level";
  out.note = "Tasks with at least two complexity levels. View: v_complexity.";
  out.header = {"Model", "Task", "Method", "Complexity", "n", "Success %", "Code used %"};
  for (const ComplexityPoint& p : r.complexity) {
    out.rows.push_back({DisplayModel(p.model), p.task, p.method, p.complexity, std::to_string(p.n),
                        Fixed(p.success_pct), Fixed(p.code_used_pct)});
  }
  return out;
}

TextTable MethodCostTable(const SweepReport& r) {
  TextTable out;
  out.title = "Cost per sample by method";
  out.note =
      "Tokens (in + out), runtime and dollars of the attempt that produced each verdict. "
      "View: v_method_cost.";
  out.header = {"Model",    "Method",  "n",         "Tokens/sample", "Runtime s/sample",
                "$/sample", "$ total", "Ave. Norm."};
  for (const MethodCost& c : r.method_cost) {
    out.rows.push_back({DisplayModel(c.model), c.method, std::to_string(c.n),
                        Fixed(c.tokens_per_sample), Fixed(c.runtime_s_per_sample, 2),
                        Money(c.cost_usd_per_sample), Money(c.cost_usd),
                        c.avg_norm_pct ? Fixed(*c.avg_norm_pct) : "NA"});
  }
  return out;
}

double Pct(int64_t part, int64_t whole) {
  return whole > 0 ? 100.0 * static_cast<double>(part) / static_cast<double>(whole) : 0.0;
}

TextTable RepeatsTable(const SweepReport& r) {
  TextTable out;
  out.title = "Repeated draws (epochs)";
  out.note =
      "Each instance (task, level, sample) drawn k times. Mean: % of correct draws. pass@k: % of "
      "instances with at least one correct draw. Majority: % of instances whose most frequent "
      "final answer is correct (ties: the answer drawn first). Query: ReportDb::Repeats.";
  out.header = {"Task", "Model", "Method", "Instances", "k", "Mean %", "pass@k %", "Majority %"};
  for (const RepeatRow& x : r.repeats) {
    out.rows.push_back({x.task, DisplayModel(x.model), MethodLabel(x.method, x.turns),
                        std::to_string(x.instances), std::to_string(x.max_draws),
                        Fixed(Pct(x.correct, x.draws)), Fixed(Pct(x.any_correct, x.instances)),
                        Fixed(Pct(x.majority_correct, x.instances))});
  }
  return out;
}

TextTable BatchCostTable(const SweepReport& r) {
  TextTable out;
  out.title = "Batch mode: cost at batch prices and synchronously";
  out.note =
      "Calls answered by provider batches (docs/batch.md), at batch prices (they are in the "
      "costs above), next to what the same answers would have cost sent synchronously. "
      "Query: ReportDb::BatchCosts (table batches).";
  out.header = {"Model",   "Batches",       "Requests", "Answered",
                "$ batch", "$ synchronous", "$ saved",  "Saved %"};
  for (const BatchCostRow& b : r.batch_cost) {
    const double saved = b.sync_cost_usd - b.cost_usd;
    out.rows.push_back({DisplayModel(b.model), std::to_string(b.batches),
                        std::to_string(b.requests), std::to_string(b.answered), Money(b.cost_usd),
                        Money(b.sync_cost_usd), Money(saved),
                        b.sync_cost_usd > 0 ? Fixed(100.0 * saved / b.sync_cost_usd) : "NA"});
  }
  return out;
}

TextTable ModelCostTable(const SweepReport& r) {
  TextTable out;
  out.title = "Calls and cost by model (every attempt)";
  out.note =
      "Every call of every attempt, failed ones included; retries = HTTP attempts beyond "
      "the first. Tokens paid were sent to the provider; tokens replayed came from the call "
      "cache and cost nothing again. View: v_model_cost.";
  out.header = {"Model",
                "Calls",
                "Cached",
                "Errors",
                "Tokens in (paid)",
                "Tokens out (paid)",
                "$",
                "429s",
                "Retries",
                "Tokens replayed (in + out)"};
  std::vector<ModelCostRow> rows = r.model_cost;
  rows.push_back(r.total);
  for (const ModelCostRow& m : rows) {
    out.rows.push_back({DisplayModel(m.model), std::to_string(m.calls), std::to_string(m.cached),
                        std::to_string(m.errors), std::to_string(m.tokens_in),
                        std::to_string(m.tokens_out), Money(m.cost_usd),
                        std::to_string(m.rate_limited), std::to_string(m.retries),
                        std::to_string(m.replayed_tokens_in + m.replayed_tokens_out)});
  }
  return out;
}

std::string MarkdownRow(const std::vector<std::string>& cells) {
  std::string out = "|";
  for (const std::string& c : cells) out += " " + c + " |";
  return out + "\n";
}

// ---- CSV ----

std::string CsvField(const std::string& s) {
  if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

class CsvWriter {
 public:
  explicit CsvWriter(std::ostringstream& out) : out_(out) {
    out_ << "table,sweep,model,task,method,complexity,metric,value\n";
  }
  void Row(const std::string& table, const std::string& sweep, const std::string& model,
           const std::string& task, const std::string& method, const std::string& complexity,
           const std::string& metric, double value) {
    char buf[40];
    std::snprintf(buf, sizeof buf, "%.10g", value);
    out_ << table << ',' << CsvField(sweep) << ',' << CsvField(model) << ',' << CsvField(task)
         << ',' << CsvField(method) << ',' << CsvField(complexity) << ',' << metric << ',' << buf
         << '\n';
  }

 private:
  std::ostringstream& out_;
};

void SweepCsv(const SweepReport& r, CsvWriter& w) {
  const std::string& s = r.sweep;
  for (const ModelTable& t : r.table1) {
    for (const auto& [task, by_method] : t.cells) {
      for (const auto& [m, c] : by_method) {
        w.Row("task_success", s, t.model, task, m, "", "n", static_cast<double>(c.n));
        w.Row("task_success", s, t.model, task, m, "", "success_pct", c.success_pct);
        w.Row("task_success", s, t.model, task, m, "", "wilson_lo_pct", c.wilson_lo_pct);
        w.Row("task_success", s, t.model, task, m, "", "wilson_hi_pct", c.wilson_hi_pct);
        w.Row("task_success", s, t.model, task, m, "", "mean_score_pct", c.mean_score_pct);
      }
    }
    for (const auto& [m, v] : t.avg_norm) {
      w.Row("method_score", s, t.model, "", m, "", "avg_norm_pct", v);
      w.Row("method_score", s, t.model, "", m, "", "rank", t.rank.at(m));
    }
  }
  for (const MethodSummaryRow& m : r.table2) {
    if (m.avg_score_pct)
      w.Row("method_summary", s, "", "", m.method, "", "avg_score_pct", *m.avg_score_pct);
    w.Row("method_summary", s, "", "", m.method, "", "avg_rank", m.avg_rank);
  }
  for (const ComplexityPoint& p : r.complexity) {
    w.Row("complexity", s, p.model, p.task, p.method, p.complexity, "n", static_cast<double>(p.n));
    w.Row("complexity", s, p.model, p.task, p.method, p.complexity, "success_pct", p.success_pct);
    w.Row("complexity", s, p.model, p.task, p.method, p.complexity, "code_used_pct",
          p.code_used_pct);
  }
  for (const MethodCost& c : r.method_cost) {
    w.Row("method_cost", s, c.model, "", c.method, "", "n", static_cast<double>(c.n));
    w.Row("method_cost", s, c.model, "", c.method, "", "tokens_per_sample", c.tokens_per_sample);
    w.Row("method_cost", s, c.model, "", c.method, "", "runtime_s_per_sample",
          c.runtime_s_per_sample);
    w.Row("method_cost", s, c.model, "", c.method, "", "cost_usd_per_sample",
          c.cost_usd_per_sample);
    w.Row("method_cost", s, c.model, "", c.method, "", "cost_usd", c.cost_usd);
  }
  for (const JobStateRow& j : r.excluded) {
    const std::string m = MethodLabel(j.method, j.turns);
    w.Row("excluded", s, j.model, "", m, "", "failed", static_cast<double>(j.failed));
    w.Row("excluded", s, j.model, "", m, "", "dead", static_cast<double>(j.dead));
  }
  for (const AnswerSourceRow& a : r.answer_sources) {
    const std::string m = MethodLabel(a.method, a.turns);
    const std::pair<const char*, int64_t> values[] = {{"tagged", a.tagged},
                                                      {"correct_tagged", a.correct_tagged},
                                                      {"fallback", a.fallback},
                                                      {"correct_fallback", a.correct_fallback}};
    for (const auto& [name, value] : values) {
      w.Row("answer_source", s, a.model, a.task, m, "", name, static_cast<double>(value));
    }
  }
  for (const BatchCostRow& b : r.batch_cost) {
    w.Row("batch_cost", s, b.model, "", "", "", "requests", static_cast<double>(b.requests));
    w.Row("batch_cost", s, b.model, "", "", "", "answered", static_cast<double>(b.answered));
    w.Row("batch_cost", s, b.model, "", "", "", "cost_usd", b.cost_usd);
    w.Row("batch_cost", s, b.model, "", "", "", "sync_cost_usd", b.sync_cost_usd);
  }
  std::vector<ModelCostRow> rows = r.model_cost;
  rows.push_back(r.total);
  for (const ModelCostRow& m : rows) {
    w.Row("model_cost", s, m.model, "", "", "", "calls", static_cast<double>(m.calls));
    w.Row("model_cost", s, m.model, "", "", "", "cached", static_cast<double>(m.cached));
    w.Row("model_cost", s, m.model, "", "", "", "errors", static_cast<double>(m.errors));
    w.Row("model_cost", s, m.model, "", "", "", "tokens_in", static_cast<double>(m.tokens_in));
    w.Row("model_cost", s, m.model, "", "", "", "tokens_out", static_cast<double>(m.tokens_out));
    w.Row("model_cost", s, m.model, "", "", "", "cost_usd", m.cost_usd);
    w.Row("model_cost", s, m.model, "", "", "", "rate_limited",
          static_cast<double>(m.rate_limited));
    w.Row("model_cost", s, m.model, "", "", "", "retries", static_cast<double>(m.retries));
    w.Row("model_cost", s, m.model, "", "", "", "replayed_tokens_in",
          static_cast<double>(m.replayed_tokens_in));
    w.Row("model_cost", s, m.model, "", "", "", "replayed_tokens_out",
          static_cast<double>(m.replayed_tokens_out));
  }
}

json CostJson(const ModelCostRow& m) {
  return {{"model", m.model},
          {"calls", m.calls},
          {"cached", m.cached},
          {"errors", m.errors},
          {"tokens_in", m.tokens_in},
          {"tokens_out", m.tokens_out},
          {"cost_usd", m.cost_usd},
          {"rate_limited", m.rate_limited},
          {"retries", m.retries},
          {"replayed_tokens_in", m.replayed_tokens_in},
          {"replayed_tokens_out", m.replayed_tokens_out}};
}

json Table1Json(const ModelTable& t) {
  json cells = json::array();
  for (const std::string& task : t.tasks) {
    for (const auto& [m, c] : t.cells.at(task)) {
      cells.push_back({{"task", task},
                       {"method", m},
                       {"n", c.n},
                       {"correct", c.correct},
                       {"success_pct", c.success_pct},
                       {"wilson_lo_pct", c.wilson_lo_pct},
                       {"wilson_hi_pct", c.wilson_hi_pct},
                       {"mean_score_pct", c.mean_score_pct}});
    }
  }
  json norm = json::object();
  for (const auto& [m, v] : t.avg_norm) norm[m] = {{"avg_norm_pct", v}, {"rank", t.rank.at(m)}};
  return {{"model", t.model},
          {"tasks", t.tasks},
          {"partial_tasks", t.partial_tasks},
          {"cells", cells},
          {"methods", norm}};
}

}  // namespace

std::string Fixed(double value, int decimals) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, value);
  return buf;
}

TextTable ExcludedTable(const SweepReport& r) {
  TextTable out;
  out.title = "Failed and dead cells (left out of every table)";
  out.note =
      "Cells without a result, per model and method: `codesweep run` retried them up to "
      "max_attempts. View: v_jobs_state.";
  out.header = {"Model", "Method", "Cells", "Done", "Failed", "Dead", "Most common error"};
  for (const JobStateRow& j : r.excluded) {
    out.rows.push_back({DisplayModel(j.model), MethodLabel(j.method, j.turns),
                        std::to_string(j.total), std::to_string(j.done), std::to_string(j.failed),
                        std::to_string(j.dead), j.top_error});
  }
  return out;
}

TextTable AnswerSourceTable(const SweepReport& r) {
  TextTable out;
  out.title = "Where the answers came from";
  out.note =
      "Per model, task and method: cells whose judged answer was read from <<<>>> and from the "
      "task's fallback for replies without it (docs/tasks.md), and how many of each were correct. "
      "Cells recorded before answer sources were kept count in neither. View: v_answer_source.";
  out.header = {"Model",  "Task",    "Method",   "Cells",
                "<<<>>>", "Correct", "Fallback", "Correct (fallback)"};
  for (const AnswerSourceRow& a : r.answer_sources) {
    out.rows.push_back({DisplayModel(a.model), a.task, MethodLabel(a.method, a.turns),
                        std::to_string(a.n), std::to_string(a.tagged),
                        std::to_string(a.correct_tagged), std::to_string(a.fallback),
                        std::to_string(a.correct_fallback)});
  }
  return out;
}

std::vector<TextTable> ReportTables(const SweepReport& r) {
  std::vector<TextTable> out;
  // The paper's summary first, then what it leaves out, then the per-model detail.
  if (!r.table1.empty()) out.push_back(Table2(r));
  if (!r.excluded.empty()) out.push_back(ExcludedTable(r));
  for (const ModelTable& t : r.table1) out.push_back(Table1(r, t));
  if (!r.complexity.empty()) out.push_back(ComplexityTable(r));
  if (!r.repeats.empty()) out.push_back(RepeatsTable(r));
  out.push_back(MethodCostTable(r));
  out.push_back(ModelCostTable(r));
  if (!r.batch_cost.empty()) out.push_back(BatchCostTable(r));
  if (!r.answer_sources.empty()) out.push_back(AnswerSourceTable(r));
  return out;
}

std::string RunProvenance(const RunRow& r) {
  std::string out = "last " + r.command + " by codesweep " + r.version;
  if (!r.git_commit.empty()) out += " (git " + r.git_commit + ")";
  out += " on " + r.host + ", sweep file sha256 " + r.sweep_sha256;
  return out + ", " + std::to_string(r.runs) + " run(s) in all";
}

std::string FormatMarkdown(const std::vector<SweepReport>& reports) {
  std::ostringstream out;
  for (const SweepReport& r : reports) {
    out << "## Sweep " << r.sweep << " (" << r.cells << " finished cells)\n\n";
    if (!r.filter.empty()) out << "Only the cells with " << r.filter << ".\n\n";
    if (r.last_run) out << "Provenance: " << RunProvenance(*r.last_run) << ".\n\n";
    for (const TextTable& t : ReportTables(r)) {
      out << "### " << t.title << "\n\n" << t.note << "\n\n" << MarkdownRow(t.header) << "|";
      for (size_t i = 0; i < t.header.size(); ++i) out << "---|";
      out << "\n";
      for (const auto& row : t.rows) out << MarkdownRow(row);
      out << "\n";
    }
  }
  if (reports.empty()) out << "No finished cells.\n";
  return out.str();
}

std::string FormatCsv(const std::vector<SweepReport>& reports) {
  std::ostringstream out;
  CsvWriter w(out);
  for (const SweepReport& r : reports) SweepCsv(r, w);
  return out.str();
}

json ReportJson(const SweepReport& r) {
  json table1 = json::array(), table2 = json::array(), complexity = json::array(),
       method_cost = json::array(), model_cost = json::array();
  for (const ModelTable& t : r.table1) table1.push_back(Table1Json(t));
  for (const MethodSummaryRow& m : r.table2) {
    table2.push_back({{"method", m.method},
                      {"avg_score_pct", m.avg_score_pct ? json(*m.avg_score_pct) : json()},
                      {"avg_rank", m.avg_rank},
                      {"models_run", m.models_run}});
  }
  for (const ComplexityPoint& p : r.complexity) {
    complexity.push_back({{"model", p.model},
                          {"task", p.task},
                          {"method", p.method},
                          {"complexity", p.complexity},
                          {"order", p.order},
                          {"n", p.n},
                          {"success_pct", p.success_pct},
                          {"code_used_pct", p.code_used_pct}});
  }
  for (const MethodCost& c : r.method_cost) {
    method_cost.push_back({{"model", c.model},
                           {"method", c.method},
                           {"n", c.n},
                           {"tokens_per_sample", c.tokens_per_sample},
                           {"runtime_s_per_sample", c.runtime_s_per_sample},
                           {"cost_usd_per_sample", c.cost_usd_per_sample},
                           {"cost_usd", c.cost_usd},
                           {"avg_norm_pct", c.avg_norm_pct ? json(*c.avg_norm_pct) : json()}});
  }
  for (const ModelCostRow& m : r.model_cost) model_cost.push_back(CostJson(m));
  json excluded = json::array();
  for (const JobStateRow& j : r.excluded) {
    excluded.push_back({{"model", j.model},
                        {"method", MethodLabel(j.method, j.turns)},
                        {"cells", j.total},
                        {"done", j.done},
                        {"failed", j.failed},
                        {"dead", j.dead},
                        {"top_error", j.top_error}});
  }
  json last_run;
  if (r.last_run) {
    last_run = {{"command", r.last_run->command},
                {"version", r.last_run->version},
                {"git_commit", r.last_run->git_commit},
                {"sweep_sha256", r.last_run->sweep_sha256},
                {"host", r.last_run->host},
                {"started_ms", r.last_run->started_ms},
                {"runs", r.last_run->runs}};
  }
  json repeats = json::array();
  for (const RepeatRow& x : r.repeats) {
    repeats.push_back({{"task", x.task},
                       {"model", x.model},
                       {"method", MethodLabel(x.method, x.turns)},
                       {"instances", x.instances},
                       {"k", x.max_draws},
                       {"mean_pct", Pct(x.correct, x.draws)},
                       {"pass_at_k_pct", Pct(x.any_correct, x.instances)},
                       {"majority_pct", Pct(x.majority_correct, x.instances)}});
  }
  json answer_sources = json::array();
  for (const AnswerSourceRow& a : r.answer_sources) {
    answer_sources.push_back({{"model", a.model},
                              {"task", a.task},
                              {"method", MethodLabel(a.method, a.turns)},
                              {"cells", a.n},
                              {"tagged", a.tagged},
                              {"correct_tagged", a.correct_tagged},
                              {"fallback", a.fallback},
                              {"correct_fallback", a.correct_fallback}});
  }
  json batch_cost = json::array();
  for (const BatchCostRow& b : r.batch_cost) {
    batch_cost.push_back({{"model", b.model},
                          {"batches", b.batches},
                          {"requests", b.requests},
                          {"answered", b.answered},
                          {"cost_usd", b.cost_usd},
                          {"sync_cost_usd", b.sync_cost_usd},
                          {"saved_usd", b.sync_cost_usd - b.cost_usd}});
  }
  return {{"answer_sources", answer_sources},
          {"batch_cost", batch_cost},
          {"last_run", last_run},
          {"filter", r.filter},
          {"sweep", r.sweep},
          {"excluded", excluded},
          {"cells", r.cells},
          {"repeats", repeats},
          {"models", r.models},
          {"methods", r.methods},
          {"tasks", r.tasks},
          {"table1", table1},
          {"table2", table2},
          {"complexity", complexity},
          {"method_cost", method_cost},
          {"model_cost", model_cost},
          {"total_cost", CostJson(r.total)}};
}

std::string FormatJson(const std::vector<SweepReport>& reports) {
  json out = json::array();
  for (const SweepReport& r : reports) out.push_back(ReportJson(r));
  // Names come from the database: invalid UTF-8 is replaced, never thrown on.
  return out.dump(2, ' ', false, json::error_handler_t::replace) + "\n";
}

}  // namespace codesweep
