-- 0001_init: the codesweep store. Applied once, in one transaction, when PRAGMA user_version < 1.
-- Documented in docs/schema.md. Times are Unix milliseconds; booleans are 0/1.
-- The job state CHECK mirrors schema/job_state.h (the single transition table).

-- Small key/value facts about the database itself (next_lease_token: the fencing counter).
CREATE TABLE meta (
  key   TEXT PRIMARY KEY,
  value ANY
) WITHOUT ROWID;
INSERT INTO meta (key, value) VALUES ('next_lease_token', 1);

-- One row per sweep (a named grid from one sweep file).
CREATE TABLE sweeps (
  id           INTEGER PRIMARY KEY,
  name         TEXT    NOT NULL UNIQUE,
  seed         INTEGER NOT NULL,            -- uint64 stored bit-for-bit as int64
  max_attempts INTEGER NOT NULL DEFAULT 3 CHECK (max_attempts >= 1),
  source_path  TEXT    NOT NULL DEFAULT '',
  source_text  TEXT    NOT NULL DEFAULT '',
  config_json  TEXT    NOT NULL DEFAULT '{}',
  created_ms   INTEGER NOT NULL,
  updated_ms   INTEGER NOT NULL
);

-- A (model, generation settings, sandbox limits) combination, stored once, deduplicated by a
-- hash of its content, and referenced by many jobs.
CREATE TABLE variants (
  id           INTEGER PRIMARY KEY,
  content_hash TEXT    NOT NULL UNIQUE,     -- hex SHA-256 of the canonical content
  model        TEXT    NOT NULL,            -- full model id, e.g. 'openai:gpt-4o'
  provider     TEXT    NOT NULL,
  model_name   TEXT    NOT NULL,
  options_json TEXT    NOT NULL DEFAULT '{}',
  gen_json     TEXT    NOT NULL DEFAULT '{}',
  sandbox_json TEXT    NOT NULL DEFAULT '{}',
  created_ms   INTEGER NOT NULL
);

-- One job per grid cell. cell_key is the 32 raw bytes of the hex SHA-256 cell key (a non-hex
-- key, as tests may use, is kept as TEXT).
CREATE TABLE jobs (
  id             INTEGER PRIMARY KEY,
  cell_key       BLOB    NOT NULL UNIQUE,
  sweep_id       INTEGER NOT NULL REFERENCES sweeps (id),
  task           TEXT    NOT NULL,
  complexity     TEXT    NOT NULL,
  sample         INTEGER NOT NULL,
  variant_id     INTEGER NOT NULL REFERENCES variants (id),
  method         TEXT    NOT NULL,
  turns          INTEGER NOT NULL,
  state          TEXT    NOT NULL DEFAULT 'pending'
                 CHECK (state IN ('pending', 'leased', 'done', 'failed', 'dead')),
  attempts       INTEGER NOT NULL DEFAULT 0,   -- leases granted so far
  lease_token    INTEGER NOT NULL DEFAULT 0,   -- current (or last) fencing token
  worker         TEXT    NOT NULL DEFAULT '',
  lease_until_ms INTEGER NOT NULL DEFAULT 0,
  not_before_ms  INTEGER NOT NULL DEFAULT 0,   -- back-off: not dispatched before this time
  last_error     TEXT    NOT NULL DEFAULT '',
  created_ms     INTEGER NOT NULL,
  updated_ms     INTEGER NOT NULL
);
-- Dispatch pages through pending jobs by id; the partial index holds only pending jobs, so it
-- shrinks as the sweep progresses.
CREATE INDEX jobs_pending ON jobs (id, not_before_ms) WHERE state = 'pending';
CREATE INDEX jobs_leased ON jobs (lease_until_ms) WHERE state = 'leased';

-- One row per lease of a job to a worker. The lease token is unique and monotonic.
CREATE TABLE attempts (
  lease_token    INTEGER PRIMARY KEY,
  job_id         INTEGER NOT NULL REFERENCES jobs (id),
  attempt        INTEGER NOT NULL,             -- 1-based
  worker         TEXT    NOT NULL,
  started_ms     INTEGER NOT NULL,
  lease_until_ms INTEGER NOT NULL,
  ended_ms       INTEGER,                      -- NULL while running
  outcome        TEXT CHECK (outcome IN ('done', 'failed', 'retry', 'dead', 'requeued')),
  error          TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX attempts_job ON attempts (job_id);

-- The verdict of a job: at most one per job (job_id is the primary key).
CREATE TABLE results (
  job_id           INTEGER PRIMARY KEY REFERENCES jobs (id),
  lease_token      INTEGER NOT NULL,           -- the attempt that produced it
  final_answer     TEXT    NOT NULL,
  correct          INTEGER NOT NULL,
  score            REAL    NOT NULL,
  passed_by        TEXT    NOT NULL,
  verdict_reason   TEXT    NOT NULL,
  code_used        INTEGER NOT NULL,
  code_ok          INTEGER NOT NULL,
  turns_used       INTEGER NOT NULL,
  n_calls          INTEGER NOT NULL,
  n_executions     INTEGER NOT NULL,
  tokens_in        INTEGER NOT NULL,
  tokens_out       INTEGER NOT NULL,
  tokens_estimated INTEGER NOT NULL,
  cost_usd         REAL    NOT NULL,
  wall_ms          INTEGER NOT NULL,
  extra_json       TEXT    NOT NULL DEFAULT '{}',
  finished_ms      INTEGER NOT NULL
);

-- Every LLM call of every attempt that reported back (failed attempts too: they were paid).
CREATE TABLE calls (
  id               INTEGER PRIMARY KEY,
  job_id           INTEGER NOT NULL REFERENCES jobs (id),
  lease_token      INTEGER NOT NULL,
  idx              INTEGER NOT NULL,
  turn             INTEGER NOT NULL,
  call_key         TEXT    NOT NULL,
  request_json     TEXT    NOT NULL,
  response_json    TEXT    NOT NULL,
  tokens_in        INTEGER NOT NULL,
  tokens_out       INTEGER NOT NULL,
  tokens_estimated INTEGER NOT NULL,
  latency_ms       INTEGER NOT NULL,
  http_status      INTEGER NOT NULL,
  attempts         INTEGER NOT NULL,
  rate_limited     INTEGER NOT NULL,
  cost_usd         REAL    NOT NULL,
  cached           INTEGER NOT NULL,
  error            TEXT    NOT NULL,
  UNIQUE (job_id, lease_token, idx)
);

-- Every execution of model-written code, per attempt.
CREATE TABLE executions (
  id               INTEGER PRIMARY KEY,
  job_id           INTEGER NOT NULL REFERENCES jobs (id),
  lease_token      INTEGER NOT NULL,
  idx              INTEGER NOT NULL,
  turn             INTEGER NOT NULL,
  code             TEXT    NOT NULL,
  status           TEXT    NOT NULL,
  exit_code        INTEGER NOT NULL,
  signal           INTEGER NOT NULL,
  wall_ms          INTEGER NOT NULL,
  cpu_ms           INTEGER NOT NULL,
  peak_rss_kb      INTEGER NOT NULL,
  stdout_text      TEXT    NOT NULL,
  stderr_text      TEXT    NOT NULL,
  stdout_truncated INTEGER NOT NULL,
  stderr_truncated INTEGER NOT NULL,
  tier             TEXT    NOT NULL,
  UNIQUE (job_id, lease_token, idx)
);

-- Successful LLM responses by call key: a re-run (or a resumed multi-turn job) never pays twice.
CREATE TABLE call_cache (
  call_key      TEXT PRIMARY KEY,
  provider      TEXT    NOT NULL,
  model         TEXT    NOT NULL,
  response_json TEXT    NOT NULL,
  tokens_in     INTEGER NOT NULL,
  tokens_out    INTEGER NOT NULL,
  created_ms    INTEGER NOT NULL
);

-- Workers seen by the coordinator.
CREATE TABLE workers (
  worker_id     TEXT PRIMARY KEY,
  host          TEXT    NOT NULL,
  pid           INTEGER NOT NULL,
  slots         INTEGER NOT NULL,
  labels_json   TEXT    NOT NULL DEFAULT '[]',
  first_seen_ms INTEGER NOT NULL,
  last_seen_ms  INTEGER NOT NULL,
  state         TEXT    NOT NULL DEFAULT 'up' CHECK (state IN ('up', 'lost', 'gone'))
);

-- ---- views for analysis (docs/schema.md) ----

-- One row per finished cell (a job with a verdict).
CREATE VIEW v_results AS
SELECT s.name AS sweep,
       CASE typeof(j.cell_key) WHEN 'blob' THEN lower(hex(j.cell_key)) ELSE j.cell_key END
         AS cell_key,
       j.id AS job_id,
       j.task, j.complexity, j.sample,
       v.model, v.provider,
       j.method, j.turns,
       r.correct, r.score, r.passed_by, r.code_used, r.code_ok, r.turns_used,
       r.n_calls AS calls, r.n_executions AS executions,
       r.tokens_in, r.tokens_out, r.tokens_estimated, r.cost_usd, r.wall_ms,
       r.final_answer, r.verdict_reason, r.finished_ms
FROM results r
JOIN jobs j ON j.id = r.job_id
JOIN sweeps s ON s.id = j.sweep_id
JOIN variants v ON v.id = j.variant_id;

-- Per (sweep, task, model, method): how many cells finished and how well.
CREATE VIEW v_summary AS
SELECT sweep, task, model, method,
       count(*) AS n,
       sum(correct) AS correct,
       round(avg(correct), 4) AS success_rate,
       round(avg(score), 4) AS mean_score,
       round(avg(code_used), 4) AS code_used_frac,
       sum(tokens_in) AS tokens_in,
       sum(tokens_out) AS tokens_out,
       round(sum(cost_usd), 6) AS cost_usd
FROM v_results
GROUP BY sweep, task, model, method;

-- Per (sweep, model, method): job counts by state.
CREATE VIEW v_jobs_state AS
SELECT s.name AS sweep, v.model, j.method,
       count(*) AS total,
       sum(j.state = 'pending') AS pending,
       sum(j.state = 'leased') AS leased,
       sum(j.state = 'done') AS done,
       sum(j.state = 'failed') AS failed,
       sum(j.state = 'dead') AS dead
FROM jobs j
JOIN sweeps s ON s.id = j.sweep_id
JOIN variants v ON v.id = j.variant_id
GROUP BY s.name, v.model, j.method;
