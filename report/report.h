// Report: the paper's tables and figures for each sweep, computed from the rows of the views
// v_report_grain, v_model_cost and v_jobs_state (report/sql/*views.sql) with the formulas of
// report_metrics.h, which are also the views v_task_success, v_method_score, v_method_summary,
// v_complexity and v_method_cost (a test checks they agree). Pure values; any thread.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "coordinator/store/report_queries.h"

namespace codesweep {

// A report method is (method, turns): "all_code" at one turn, "all_code@T2" at two.
std::string MethodLabel(const std::string& method, int turns);

struct TaskMethodCell {  // one Table 1 cell (v_task_success)
  int64_t n = 0, correct = 0;
  double success_pct = 0, wilson_lo_pct = 0, wilson_hi_pct = 0, mean_score_pct = 0;
};

struct ModelTable {  // Table 1 for one model
  std::string model;
  std::vector<std::string> tasks;          // grid order
  std::vector<std::string> partial_tasks;  // tasks whose scores differ from success (partial)
  std::map<std::string, std::map<std::string, TaskMethodCell>> cells;  // task -> method
  std::map<std::string, double> avg_norm;  // method -> % (v_method_score.avg_norm_pct)
  std::map<std::string, int> rank;         // method -> rank on this model
};

struct MethodSummaryRow {  // one Table 2 row (v_method_summary)
  std::string method;
  std::optional<double> avg_score_pct;
  double avg_rank = 0;
  int models_run = 0;
};

struct ComplexityPoint {  // v_complexity
  std::string model, task, method, complexity;
  int64_t order = 0, n = 0;
  double success_pct = 0, code_used_pct = 0;
  double success_lo_pct = 0, success_hi_pct = 0;  // 95 % Wilson interval of success_pct
};

struct MethodCost {  // v_method_cost, plus the method's average normalized score on the model
  std::string model, method;
  int64_t n = 0;
  double tokens_per_sample = 0, runtime_s_per_sample = 0, cost_usd_per_sample = 0, cost_usd = 0;
  std::optional<double> avg_norm_pct;
};

struct SweepReport {
  std::string sweep;
  int64_t cells = 0;                                // finished cells
  std::vector<std::string> models, methods, tasks;  // grid order
  std::vector<ModelTable> table1;
  std::vector<MethodSummaryRow> table2;
  std::vector<ComplexityPoint> complexity;  // tasks with at least two levels only
  std::vector<MethodCost> method_cost;
  std::vector<ModelCostRow> model_cost;
  ModelCostRow total;  // model = "total"
  // (model, method, turns) with failed or dead cells: left out of every table above, so a
  // method whose cells all died is visible here instead of missing.
  std::vector<JobStateRow> excluded;
  // Cells drawn more than once (`epochs = K`): mean, pass@k and majority vote. Filled by the
  // caller (ReportDb::Repeats), like `source`.
  std::vector<RepeatRow> repeats;
  std::optional<SweepSource> source;  // provenance, when the caller has it
  std::optional<RunRow> last_run;     // the latest run's version, commit, file hash and host
  std::string filter;                 // "task=a model=b" when the cells were filtered; "" = all
  // Where the judged answers came from per (model, task, method): <<<>>> or a task's fallback
  // (v_answer_source), when the caller has them.
  std::vector<AnswerSourceRow> answer_sources;
  // Batch mode: per model, what its provider batches cost at batch prices and would have cost
  // synchronously (ReportDb::BatchCosts), when the caller has them.
  std::vector<BatchCostRow> batch_cost;
};

// A model as reports show it: "sim:strong (simulated)" for the simulated provider, so numbers of
// a simulated model are never read as a real model's.
std::string DisplayModel(const std::string& model);

// One report per sweep present in `grain` (in order of first appearance), then per sweep that
// has only failed or dead cells in `job_states`.
std::vector<SweepReport> BuildReports(const std::vector<GrainRow>& grain,
                                      const std::vector<ModelCostRow>& model_cost,
                                      const std::vector<JobStateRow>& job_states = {});

}  // namespace codesweep
