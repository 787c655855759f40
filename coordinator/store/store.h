// Store: the coordinator's durable state in one SQLite file (WAL). The only code that sees
// sqlite3. One Store object owns one connection and is used from one thread (the coordinator
// loop, or a read-only tool). Writes go into an implicit transaction (BEGIN IMMEDIATE on the
// first write) that Commit() makes durable: the coordinator calls Commit() at least every
// 10-20 ms (group commit) and sends ACKs only after it returns OK.
// Schema: schema/sql/NNNN_*.sql, tracked by PRAGMA user_version; a newer database is refused.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/log.h"
#include "base/status.h"
#include "coordinator/store/read_filter.h"
#include "schema/ids.h"
#include "schema/job_state.h"
#include "schema/messages.h"
#include "schema/types.h"

namespace codesweep {

struct StoreOptions {
  bool read_only = false;  // status/report/show: never writes, safe beside a run
  bool create = true;      // create and migrate if missing (ignored when read_only)
  int64_t busy_timeout_ms = 5000;
  bool synchronous_full = true;  // PRAGMA synchronous=FULL (NORMAL for benchmarks only)
  // Receives the SQL of a failed statement (error messages name the database file, never SQL).
  // Null drops it; the logger must outlive the Store.
  Logger* log = nullptr;
};

struct SweepRecord {
  std::string name;
  uint64_t seed = 0;
  int max_attempts = 3;
  std::string source_path;  // where the sweep file was read from (for display)
  std::string source_text;  // the sweep file text as given
  std::string config_json;  // normalized config (no secrets)
};

// A (model, generation settings, sandbox limits) combination, stored once and referenced by jobs.
struct VariantRecord {
  ModelSpec model;
  GenSettings gen;
  std::string sandbox_json = "{}";
};

// One grid cell to insert as a job.
struct CellRow {
  CellKey cell;
  std::string task;
  std::string complexity;
  int64_t sample = 0;
  int64_t variant_id = 0;
  std::string method;
  int turns = 1;
  int epoch = 0;  // draw index of a repeated cell (sweep `epochs`); 0 when it runs once
  // Keys this cell had under an older cell-key definition (docs/design.md, "Cell identity"): a
  // job found under one of them is given `cell` instead of a new job being inserted.
  std::vector<CellKey> legacy_cells;
  int64_t method_template_id = 0;  // a declared method's stored definition; 0 = built-in
};

// A job as the dispatcher needs it: enough to build a JobSpec via the variant cache.
struct JobRow {
  JobId job;
  CellKey cell;
  int64_t sweep_id = 0;
  std::string task;
  std::string complexity;
  int64_t sample = 0;
  int64_t variant_id = 0;
  std::string method;
  int turns = 1;
  JobState state = JobState::kPending;
  int attempts = 0;
  LeaseToken lease;
  std::string worker;
  int64_t lease_until_ms = 0;
  int64_t not_before_ms = 0;
  int epoch = 0;
  int64_t method_template_id = 0;  // a declared method's stored definition; 0 = built-in
};

enum class CompleteResult {
  kAccepted,  // recorded; ACK after Commit()
  kStale,     // lease does not match (requeued, re-leased or already finished): ACK and drop
};

struct WorkerRecord {
  std::string worker_id;
  std::string host;
  int64_t pid = 0;
  int slots = 0;
  std::string labels_json = "[]";
  int64_t last_seen_ms = 0;
  std::string state = "up";  // up, lost, gone
};

struct StoredCall {
  std::string call_key;
  std::string provider;
  std::string model;
  std::string response_json;
  int64_t tokens_in = 0;
  int64_t tokens_out = 0;
  int64_t created_ms = 0;
};

// Live rate-limiter state of one (provider, model, key alias) bucket (table rate_limits).
// Limits 0 = unlimited; *_available -1 = unlimited; cap 0 = no in-flight cap yet.
struct RateLimitRow {
  std::string provider, model, key_alias;
  double rpm = 0, tpm = 0, input_tpm = 0, output_tpm = 0;
  double requests_available = -1, tokens_available = -1;
  int64_t in_flight = 0, cap = 0, max_concurrency = 0, queued = 0;
  int64_t granted = 0, ok = 0, rate_limited = 0, cooldown_ms = 0, updated_ms = 0;
  // Learned token ratios (written by PutRateLimits, read back only by LearnedRateLimits).
  double est_ratio = 1.0, input_share = 0.5;
  int64_t learned_samples = 0;
};

// Which failed or dead cells of a sweep `codesweep retry` puts back. Empty strings match all.
struct RetryFilter {
  std::vector<JobState> states = {JobState::kFailed, JobState::kDead};
  std::string task;        // exact task name
  std::string model;       // exact model id ("openai:gpt-4o")
  std::string method;      // exact method name
  std::string error_like;  // a substring of the cell's last error (ASCII case-insensitive)
};

// What a sweep's calls cost, per model (budgets). Calls answered from the cache cost nothing.
struct ModelSpend {
  std::string model;
  double cost_usd = 0;
  int64_t tokens = 0;  // tokens_in + tokens_out
};

// Where and with what a `run` or `coordinator` served a sweep (table runs: provenance).
struct RunRecord {
  int64_t sweep_id = 0;
  std::string command;       // "run" or "coordinator"
  std::string version;       // codesweep --version
  std::string git_commit;    // of the build; "" when unknown
  std::string sweep_sha256;  // hex SHA-256 of the sweep file's bytes
  std::string host;
  int64_t pid = 0;
  int64_t started_ms = 0;  // 0 = now
};

struct JobCounts {
  int64_t total = 0, pending = 0, leased = 0, done = 0, failed = 0, dead = 0, parked = 0;
};

// ---- batch mode (docs/batch.md; tables batches, batch_requests, batch_waits) ----
// One call waiting for, or sent in, a provider batch.
struct BatchRequestRow {
  std::string call_key, provider, model, key_alias;
  int64_t sweep_id = 0, variant_id = 0;
  std::string body;  // provider request body; filled by QueuedBatchRequests only
  int64_t est_tokens = 0;
  std::string state = "queued";  // queued, sent, done, failed
  int64_t batch_id = 0;
  int tries = 0;
  int http_status = 0;  // of a per-request error
  std::string error;
  int64_t queued_ms = 0;
};
// One provider batch.
struct BatchRow {
  int64_t id = 0;
  std::string provider, model, key_alias, base_url, api_key_env;
  int64_t sweep_id = 0, variant_id = 0;
  std::string provider_id, input_file_id;
  std::string state = "creating";  // creating, submitted, in_progress, ended, expired,
                                   // cancelled, failed, refused
  int64_t n_requests = 0, n_done = 0, n_failed = 0, bytes = 0, est_tokens = 0;
  double cost_usd = 0;       // of its answered requests, at batch prices
  double sync_cost_usd = 0;  // what they would have cost sent synchronously
  std::string error;
  int64_t created_ms = 0, updated_ms = 0, ended_ms = 0, next_poll_ms = 0;
  int64_t cancel_requested_ms = 0;  // `codesweep batches cancel` (0: not cancelled by the user)
  bool live() const {
    return state == "creating" || state == "submitted" || state == "in_progress";
  }
};
// The queued requests of one (provider, model, key alias).
struct BatchQueueRow {
  std::string provider, model, key_alias;
  int64_t variant_id = 0;  // of one of them (where to find the model's options)
  int64_t n = 0, bytes = 0, est_tokens = 0, oldest_ms = 0;
};
// How one request of an ended batch ended.
struct BatchAnswer {
  std::string call_key;
  bool ok = false;
  bool resend = false;  // expired, cancelled or transient: queue it again
  // The user cancelled its batch (`codesweep batches cancel`) before it was answered: the request
  // is forgotten and the cells waiting for it end failed with `error` (retryable by the user).
  bool user_cancelled = false;
  int http_status = 0;
  std::string error;
  StoredCall call;  // ok: the normalized response for the call cache
  double cost_usd = 0;
};

// Counts for `status`: one row per (sweep, model, method).
struct StatusRow {
  std::string sweep;
  std::string model;
  std::string method;
  int64_t pending = 0, leased = 0, done = 0, failed = 0, dead = 0, parked = 0;
  int64_t correct = 0;
  int64_t first_finished_ms = 0, last_finished_ms = 0;
  // Of `leased`: leases whose worker is not live (not 'up', or silent for kLiveWorkerMs), e.g.
  // after an interrupted `run`; nothing is running them. Filled when StatusRows gets a now_ms.
  int64_t orphaned = 0;
  int64_t recent = 0;  // cells finished in the kRecentWindowMs before now_ms
};

// A worker counts as live while the coordinator wrote its last-seen time this recently (the
// coordinator writes it every 2 s while the worker talks to it).
inline constexpr int64_t kLiveWorkerMs = 30'000;
// `status` rates are taken over this window: an outage shows 0 cells/s.
inline constexpr int64_t kRecentWindowMs = 60'000;

class Store {
 public:
  static Result<std::unique_ptr<Store>> Open(const std::string& path, const StoreOptions& options);
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // ---- transactions (group commit) ----
  Status Commit();  // no-op when nothing is pending
  // Checkpoints the write-ahead log (passive: never waits for readers) when it holds 900 frames
  // or more and no transaction is open; true if it did. The coordinator calls it between loop
  // turns, so the commit that takes the log to SQLite's 1,000-frame threshold (and would
  // checkpoint itself, fsyncing the database) is rarely the one a submitted job waits for.
  bool CheckpointIfDue();
  bool has_pending_writes() const;

  // ---- sweeps and grid ----
  // Inserts the sweep or updates its text/config; returns its id. Commits itself.
  Result<int64_t> UpsertSweep(const SweepRecord& sweep);
  // UpsertSweep without the commit: the row joins the group transaction, so a grid load
  // commits it with the sweep's first jobs and no interrupted load leaves a sweep without jobs.
  Result<int64_t> StageSweep(const SweepRecord& sweep);
  // Dedups on content; a new variant is committed at once, a stored one only read.
  Result<int64_t> UpsertVariant(const VariantRecord& variant);
  Result<VariantRecord> GetVariant(int64_t variant_id);
  // A declared method's definition (method_templates table), deduplicated on content_hash;
  // returns its id. Joins the group transaction (a grid load commits it with its cells).
  Result<int64_t> UpsertMethodTemplate(const std::string& content_hash, const std::string& name,
                                       const std::string& definition_json);
  // The definition_json of a stored declared method.
  Result<std::string> GetMethodTemplate(int64_t id);
  // The variants the jobs of a sweep use, by id.
  Result<std::vector<int64_t>> SweepVariants(int64_t sweep_id);
  // Points every job of the sweep that uses variant `from` at variant `to` (same output, other
  // transport settings: the jobs are then dispatched with `to`'s). Joins the group transaction.
  Result<int64_t> RemapVariant(int64_t sweep_id, int64_t from, int64_t to);
  // INSERT OR IGNORE of many cells as pending jobs in one transaction; returns how many were new.
  // A job found under one of a cell's legacy_cells keys takes the cell's key instead.
  Result<int64_t> InsertCells(int64_t sweep_id, const std::vector<CellRow>& cells);
  // A grid load: BeginCellLoad(), InsertCells() for each batch, FinishCellLoad(), Commit(). Into
  // an empty jobs table the jobs indexes are dropped at the start and each is built with one
  // sort at the end (instead of a random B-tree insert per cell into the cell-key index), but
  // for the report-only index, which BuildReportIndexes builds when the sweep is done; into
  // a table with jobs it changes nothing (InsertCells enlarges the page cache for batches of
  // 1,000 cells or more). Between the two calls only InsertCells
  // may run. FinishCellLoad returns how many cells it dropped as duplicates of earlier ones
  // (which InsertCells counted as new: the unique index was not there to ignore them). Commit()
  // finishes an open load itself, so no transaction ever commits without the indexes.
  // `cancel`, if given, is polled by SQLite from BeginCellLoad to FinishCellLoad: once it is set
  // (from any thread) the statement running fails within milliseconds, even an index build.
  // AbortCellLoad rolls an open load back: every write since the last commit is discarded and
  // the dropped indexes are back; a load that failed or was cancelled must end with it.
  Status BeginCellLoad(const std::atomic<bool>* cancel = nullptr);
  Result<int64_t> FinishCellLoad();
  void AbortCellLoad();
  // Builds the report-only jobs indexes a grid load left for later (see BeginCellLoad); returns
  // how many. The coordinator calls it once the sweep has finished. Commit afterwards.
  Result<int> BuildReportIndexes();
  // What ExpandIntoStore saved with the sweep's last load, in the same transaction (a digest of
  // everything the cell keys derive from, and the sweep's job count); empty if nothing was.
  Result<std::string> GridDigest(int64_t sweep_id);
  Status SetGridDigest(int64_t sweep_id, const std::string& digest);
  Result<std::vector<std::pair<int64_t, SweepRecord>>> ListSweeps();
  // The id of the sweep of that name; 0 when there is none.
  Result<int64_t> SweepIdByName(const std::string& name);

  // ---- dispatch (coordinator loop) ----
  // Pending jobs with not_before <= now, in id order after `after_job`, at most `limit`.
  // The coordinator pages through these; memory stays bounded by `limit`.
  // `scope_sql`: an extra SQL condition over the jobs table (named jobs), e.g. a CLI filter.
  Result<std::vector<JobRow>> FetchPending(int64_t now_ms, JobId after_job, int limit,
                                           const std::string& scope_sql = "");
  // pending -> leased; attempts += 1; assigns the next lease token (monotonic across restarts).
  Result<LeaseToken> LeaseJob(JobId job, const std::string& worker, int64_t lease_until_ms);
  // Extends a live lease; kStale if the lease no longer matches.
  Result<CompleteResult> RenewLease(JobId job, LeaseToken lease, int64_t lease_until_ms);
  // Fenced completion. A verdict (outcome.failed == false) -> done with its result, calls and
  // executions; a permanent error -> failed; a retryable error -> pending after
  // `retry_not_before_ms`, or dead once attempts reach max_attempts (last error kept).
  // outcome.parked (batch mode) -> parked on outcome.parked_on, its executions kept for the next
  // run and its attempt given back; pending at once if that call has meanwhile ended.
  Result<CompleteResult> CompleteJob(JobId job, LeaseToken lease, const Outcome& outcome,
                                     int64_t now_ms, int64_t retry_not_before_ms);
  // leased -> pending, fenced by the lease: the worker went away (lost, lease expired, handed
  // back, stalled), the cell did not fail, so its attempt is given back (attempts - 1) and the
  // next lease runs the same attempt number again. Only failed executions (CompleteJob) count
  // against max_attempts.
  Result<CompleteResult> RequeueJob(JobId job, LeaseToken lease, const std::string& reason,
                                    int64_t not_before_ms);
  // Leased jobs whose lease_until < now (at most `limit`).
  Result<std::vector<JobRow>> ExpiredLeases(int64_t now_ms, int limit);
  // All leased jobs (on coordinator restart: they get a grace period before requeue).
  Result<std::vector<JobRow>> LeasedJobs();
  // Sets lease_until of every leased job to `until_ms` (restart grace).
  Status ExtendAllLeases(int64_t until_ms);
  Result<JobRow> GetJob(JobId job);
  // failed/dead -> pending for a sweep (explicit retry). Returns how many.
  Result<int64_t> RetryFailed(int64_t sweep_id);
  // failed/dead -> pending (schema/job_state.h, "explicit user request") for the cells of a sweep
  // that match `filter`: attempts start again from 0, the old attempts, calls and executions stay
  // as history (jobs.retry_floor marks where they end). Commits. Returns how many; InvalidArgument
  // for a state that cannot be retried.
  Result<int64_t> RetryCells(int64_t sweep_id, const RetryFilter& filter);
  // How many cells RetryCells would put back (retry --dry-run; works on a read-only Store).
  Result<int64_t> CountRetryable(int64_t sweep_id, const RetryFilter& filter);

  // ---- budgets ----
  // Cost and tokens of the sweep's recorded calls, per model id.
  Result<std::vector<ModelSpend>> SpendByModel(int64_t sweep_id);
  // Pending, leased and parked (batch mode) cells of the sweep, per model id (models without any
  // are absent).
  Result<std::vector<std::pair<std::string, int64_t>>> UnfinishedByModel(int64_t sweep_id);
  // Sets sweeps.stop_reason (why no more of its cells start; "" clears it) inside the group
  // transaction. `status` shows it.
  Status SetStopReason(int64_t sweep_id, const std::string& reason);

  // ---- provenance ----
  Status RecordRun(const RunRecord& run);  // commits itself

  // ---- workers ----
  Status UpsertWorker(const WorkerRecord& worker);
  // Only the state and last-seen time of a known worker (its host, pid and slots stay).
  Status SetWorkerState(const std::string& worker_id, const std::string& state,
                        int64_t last_seen_ms);

  // ---- call cache ----
  Result<std::optional<StoredCall>> LookupCall(const std::string& call_key);
  Status PutCall(const StoredCall& call);  // only successful responses; ignores duplicates
  Result<int64_t> CountCalls();
  Status ClearCalls();

  // ---- batch mode (coordinator/store/batches.cc, docs/batch.md) ----
  // A call that waits for a batch: INSERT OR IGNORE; true when it was not known.
  Result<bool> QueueBatchRequest(const BatchRequestRow& row);
  // The request of a call key (without its body), if any.
  Result<std::optional<BatchRequestRow>> GetBatchRequest(const std::string& call_key);
  // True when a batch answered `call_key` while `job` was parked on it: its next run records
  // the answer as its own paid call.
  Result<bool> IsBatchAnswer(JobId job, const std::string& call_key);
  // The queued requests per (provider, model, key alias).
  Result<std::vector<BatchQueueRow>> BatchQueues();
  // The oldest queued requests of one bucket (with bodies), at most `limit`.
  Result<std::vector<BatchRequestRow>> QueuedBatchRequests(const std::string& provider,
                                                           const std::string& model,
                                                           const std::string& key_alias,
                                                           int64_t limit);
  // Inserts `batch` (state creating) and moves `call_keys` to sent in it; returns its id. Joins
  // the group transaction: commit before asking the provider.
  Result<int64_t> CreateBatch(const BatchRow& batch, const std::vector<std::string>& call_keys);
  // Writes the provider id, state, counts, error, times and cost of a batch.
  Status UpdateBatch(const BatchRow& batch);
  // Batches in state creating, submitted or in_progress (of every sweep).
  Result<std::vector<BatchRow>> LiveBatches();
  // The batches of a sweep (0 = all), newest first, at most `limit`.
  Result<std::vector<BatchRow>> ListBatches(int64_t sweep_id, int64_t limit);
  // The sent requests of a batch go back to the queue (a batch the provider refused or that
  // was never created). Returns how many.
  Result<int64_t> RequeueBatchRequests(int64_t batch_id);
  // `batch` was just refused and its requests queued again: when the previous row of its
  // (provider, model, key alias, sweep) is refused too, that row takes this refusal (refusals + 1,
  // the new error and end time) and `batch`'s row is deleted. Returns the row that stands for it.
  Result<int64_t> FoldRefusedBatch(const BatchRow& batch);
  // A batch ended: answers go into the call cache, requests end (done, failed or queued again
  // for `resend`), its sent requests the provider did not mention are queued again, and the
  // cells parked on its ended requests become pending. Returns how many cells it unparked.
  // A batch the user cancelled (`user_cancelled`): the sent requests its results did not mention
  // end as user_cancelled answers with `cancel_error`; `*cancelled_cells` counts the cells that
  // ended failed that way.
  Result<int64_t> EndBatch(int64_t batch_id, const std::vector<BatchAnswer>& answers,
                           int64_t now_ms, bool user_cancelled = false,
                           const std::string& cancel_error = "",
                           int64_t* cancelled_cells = nullptr);
  // `codesweep batches cancel`: marks the live batches of `sweep_id` cancelled by the user (once;
  // durable at the next commit) and returns them.
  Result<std::vector<BatchRow>> RequestBatchCancel(int64_t sweep_id, int64_t now_ms);
  // Requests in the queue (not yet in a batch) of `sweep_id` (0 = all).
  Result<int64_t> CountQueuedBatchRequests(int64_t sweep_id);
  // Cells parked on a call that has an answer or a final error (after a crash between the two
  // writes, or a call answered synchronously meanwhile) become pending. Returns how many.
  Result<int64_t> UnparkAnswered();
  // The code executions a parked cell's runs recorded (replayed by its next run).
  Result<std::vector<ExecutionRecord>> CellExecutions(JobId job);
  // ---- rate limiter (coordinator/store_ratelimit.cc) ----
  // Upserts the live bucket rows inside the group transaction.
  Status PutRateLimits(const std::vector<RateLimitRow>& rows);
  Result<std::vector<RateLimitRow>> RateLimits();
  // Each bucket's key and learned token ratios (est_ratio, input_share, learned_samples; the
  // other fields stay default): what a coordinator seeds its limiter with. Writer side only.
  Result<std::vector<RateLimitRow>> LearnedRateLimits();
  // Cells not yet finished (pending or leased) per variant id, of sweep `sweep_id` (0: every
  // sweep), from the writer-kept counts (view_states): a few rows per grid combination, never a
  // walk over the jobs. Writer side only. DispatchLanes ranks the buckets by what is left.
  Result<std::vector<std::pair<int64_t, int64_t>>> UnfinishedByVariant(int64_t sweep_id);

  // ---- read side ----
  // `filter` narrows the cells (read_filter.h); `now_ms` > 0 fills orphaned and recent.
  Result<std::vector<StatusRow>> StatusRows(const std::string& sweep_filter,
                                            const ReadFilter& filter = {}, int64_t now_ms = 0);
  Result<int64_t> CountJobs(std::optional<JobState> state, int64_t sweep_id /* 0 = all */);
  // Every state's count in one pass over the jobs (sweep_id 0 = all sweeps).
  Result<JobCounts> CountJobStates(int64_t sweep_id, const std::string& scope_sql = "");

  // ---- schema ----
  static int LatestSchemaVersion();
  Result<int> SchemaVersion();

 private:
  struct Impl;
  explicit Store(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace codesweep
