// ReportDb: the read-only side of the store used by `codesweep report` and `codesweep show`.
// It owns its own read-only connection (safe beside a running coordinator) and runs only the
// queries of the report views (report/sql/*views.sql, documented in docs/reports.md) plus the
// trajectory reads of `show`. A database at schema version 1 gets those views as TEMP views, so
// it is never written. One thread; plain row structs out, no sqlite3 types in this header.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "base/status.h"
#include "coordinator/store/read_filter.h"

namespace codesweep {

namespace store_internal {
class StoreDb;
}

// One row of v_report_grain: sums over the finished cells of one
// (sweep, model, task, method, turns, complexity).
struct GrainRow {
  std::string sweep, model, task, method;
  int turns = 1;
  std::string complexity;
  int64_t complexity_order = 0;  // smallest job id of the level: grid order
  int64_t n = 0, correct = 0;
  double score_sum = 0;
  int64_t code_used = 0, code_ok = 0, tokens_in = 0, tokens_out = 0;
  double cost_usd = 0;
  int64_t wall_ms = 0, calls = 0;
};

// One row of v_model_cost: what every call of one (sweep, model) cost.
struct ModelCostRow {
  std::string sweep, model;
  int64_t calls = 0, cached = 0, errors = 0;
  int64_t tokens_in = 0, tokens_out = 0;  // paid: calls sent to the provider
  double cost_usd = 0;
  int64_t rate_limited = 0, retries = 0;
  int64_t replayed_tokens_in = 0, replayed_tokens_out = 0;  // answered from the call cache
};

// One row of v_jobs_state: the jobs of one (sweep, model setting, method, turns) by state, with
// the most common last error of the failed and dead ones.
struct JobStateRow {
  std::string sweep, model, method;
  int turns = 1;
  int64_t total = 0, pending = 0, leased = 0, done = 0, failed = 0, dead = 0;
  std::string top_error;
};

// Repeated cells (`epochs = K`) of one (sweep, task, model setting, method, turns): an instance
// is one (complexity, sample), drawn once per epoch.
struct RepeatRow {
  std::string sweep, task, model, method;
  int turns = 1;
  int64_t instances = 0;         // with at least one finished draw
  int64_t draws = 0;             // finished draws over all instances
  int64_t correct = 0;           // correct draws
  int64_t max_draws = 0;         // the most draws one instance has (k of pass@k)
  int64_t any_correct = 0;       // instances with at least one correct draw (pass@k)
  int64_t majority_correct = 0;  // instances whose most frequent answer is correct
};

// Batch mode (docs/batch.md): the provider batches of one (sweep, provider:model) with what their
// answers cost at batch prices and would have cost sent synchronously (table batches).
struct BatchCostRow {
  std::string sweep, model;
  int64_t batches = 0, requests = 0, answered = 0;
  double cost_usd = 0, sync_cost_usd = 0;
};

// One row of v_answer_source: where the judged answers of one (sweep, model setting, task,
// method, turns) came from, <<<>>> ("tagged") or a task's fallback.
struct AnswerSourceRow {
  std::string sweep, model, task, method;
  int turns = 1;
  int64_t n = 0, tagged = 0, correct_tagged = 0, fallback = 0, correct_fallback = 0;
};

// Where a sweep came from, for a report's provenance (the sweeps table).
struct SweepSource {
  std::string name, source_path, source_text;  // the sweep file as written
  int64_t seed = 0, created_ms = 0, updated_ms = 0;
};

// The latest `run` or `coordinator` start of a sweep (table runs), for provenance.
struct RunRow {
  std::string sweep, command, version, git_commit, sweep_sha256, host;
  int64_t pid = 0, started_ms = 0;
  int64_t runs = 0;  // how many starts the sweep has had
};

// One cell for `codesweep export`: its place in the grid, state, and verdict (when it has one).
struct ExportRow {
  int64_t job_id = 0;
  std::string cell_key, sweep, task, complexity, model, method, state, last_error;
  int64_t sample = 0, attempts = 0;
  int turns = 1;
  bool has_result = false;
  std::string final_answer, target, passed_by, verdict_reason;
  bool correct = false, code_used = false, code_ok = false;
  double score = 0, cost_usd = 0;
  int64_t turns_used = 0, calls = 0, executions = 0, tokens_in = 0, tokens_out = 0;
  int64_t wall_ms = 0, finished_ms = 0;
};

// A generic query result: column names and cells (nullopt = SQL NULL), for tests and `--sql`.
struct QueryTable {
  std::vector<std::string> columns;
  std::vector<std::vector<std::optional<std::string>>> rows;
};

// A typed cell or bound parameter of QueryRows: NULL, an integer, a real or a text (a blob
// comes out as lower-case hex text).
using QueryValue = std::variant<std::monostate, int64_t, double, std::string>;
struct QueryRows {
  std::vector<std::string> columns;
  std::vector<std::vector<QueryValue>> rows;
};

// ---- trajectories (`codesweep show`) ----
struct TrajectoryAttempt {
  int64_t lease = 0;
  int attempt = 0;
  std::string worker, outcome, error;
  int64_t started_ms = 0, ended_ms = 0;
};
struct TrajectoryCall {
  int64_t lease = 0;
  int index = 0, turn = 0;
  std::string request_json, response_json, error;
  int64_t tokens_in = 0, tokens_out = 0, latency_ms = 0;
  int http_status = 0, attempts = 0, rate_limited = 0;
  double cost_usd = 0;
  bool cached = false;
};
struct TrajectoryExecution {
  int64_t lease = 0;
  int index = 0, turn = 0;
  std::string code, status, stdout_text, stderr_text, tier;
  int exit_code = 0, signal = 0;
  int64_t wall_ms = 0, cpu_ms = 0, peak_rss_kb = 0;
  bool stdout_truncated = false, stderr_truncated = false;
};
struct TrajectoryVerdict {
  int64_t lease = 0;
  std::string final_answer, passed_by, verdict_reason, extra_json;
  std::string target;  // the expected answer (extra_json "target"); "" for older results
  bool correct = false, code_used = false, code_ok = false;
  double score = 0, cost_usd = 0;
  int turns_used = 0;
  int64_t tokens_in = 0, tokens_out = 0, wall_ms = 0;
};
struct Trajectory {
  int64_t job_id = 0;
  std::string cell_key, sweep, task, complexity, model, method, state, last_error;
  int64_t sample = 0;
  int turns = 1, attempts_made = 0;
  std::vector<TrajectoryAttempt> attempts;
  std::vector<TrajectoryCall> calls;            // in (lease, index) order
  std::vector<TrajectoryExecution> executions;  // in (lease, index) order
  std::optional<TrajectoryVerdict> verdict;
};

class ReportDb {
 public:
  // Opens `path` read-only. Fails on a missing file, a non-codesweep file or a newer schema.
  static Result<std::unique_ptr<ReportDb>> Open(const std::string& path);
  ~ReportDb();
  ReportDb(const ReportDb&) = delete;
  ReportDb& operator=(const ReportDb&) = delete;

  Result<std::vector<std::string>> SweepNames();    // in id order
  Result<std::vector<SweepSource>> SweepSources();  // in id order
  // v_report_grain / v_model_cost rows; `sweep` empty = every sweep.
  Result<std::vector<GrainRow>> Grain(const std::string& sweep);
  Result<std::vector<ModelCostRow>> ModelCost(const std::string& sweep);
  Result<std::vector<JobStateRow>> JobStates(const std::string& sweep);
  // The latest run of each sweep, in sweep order; empty for a database without the runs table.
  Result<std::vector<RunRow>> LatestRuns();
  // Every cell of `sweep` (empty = all) that `filter` admits, in job id order, handed to `fn`
  // one at a time (memory stays flat); `fn` returning an error stops the walk with it.
  Status ForEachCell(const std::string& sweep, const ReadFilter& filter,
                     const std::function<Status(const ExportRow&)>& fn);
  // Per (sweep, task, model setting, method, turns) whose instances have more than one draw.
  Result<std::vector<RepeatRow>> Repeats(const std::string& sweep);
  Result<std::vector<AnswerSourceRow>> AnswerSources(const std::string& sweep);
  // Per (sweep, provider:model) with provider batches; empty without the batches table.
  Result<std::vector<BatchCostRow>> BatchCosts(const std::string& sweep);
  // Any read-only SQL (the connection is query_only).
  Result<QueryTable> Query(const std::string& sql);
  // Read-only SQL with ?1.. bound to `params`, typed cells out (for `codesweep view`).
  Result<QueryRows> QueryRowsOf(const std::string& sql, const std::vector<QueryValue>& params);

  // Job ids matching `cell`: a full cell key, a unique hex prefix of one, or a job id.
  // At most `limit` ids, so callers can detect an ambiguous prefix. With a non-empty `filter`
  // only cells it admits count; an empty `cell` then matches every such cell.
  Result<std::vector<int64_t>> FindJobs(const std::string& cell, int limit,
                                        const ReadFilter& filter = {});
  Result<Trajectory> LoadTrajectory(int64_t job_id);

 private:
  explicit ReportDb(std::unique_ptr<store_internal::StoreDb> db);
  Result<std::vector<int64_t>> FindFilteredJobs(const std::string& cell, int limit,
                                                const ReadFilter& filter);
  Result<bool> HasTable(const std::string& name);
  Status LoadCalls(Trajectory& t);
  Status LoadExecutions(Trajectory& t);
  Status LoadAttemptsAndVerdict(Trajectory& t);
  std::unique_ptr<store_internal::StoreDb> db_;
};

}  // namespace codesweep
