-- 0018_jobs_parked_index: the job state `parked` (batch mode, docs/batch.md): a cell whose next
-- LLM call waits in a provider batch holds no worker slot; it becomes pending again when the batch
-- has ended. Only the state CHECK changes, so the table is rebuilt by SQLite's documented
-- procedure as in 0004 (the migration runner turns foreign keys off and legacy_alter_table on
-- around it and runs foreign_key_check before it commits). Every jobs index is built again here,
-- including the report-only ones a grid load may have left for later (their meta entries go).
CREATE TABLE jobs_new (
  id             INTEGER PRIMARY KEY,
  cell_key       BLOB    NOT NULL,             -- unique: index jobs_cell_key
  sweep_id       INTEGER NOT NULL REFERENCES sweeps (id),
  task           TEXT    NOT NULL,
  complexity     TEXT    NOT NULL,
  sample         INTEGER NOT NULL,
  variant_id     INTEGER NOT NULL REFERENCES variants (id),
  method         TEXT    NOT NULL,
  turns          INTEGER NOT NULL,
  state          TEXT    NOT NULL DEFAULT 'pending'
                 CHECK (state IN ('pending', 'leased', 'done', 'failed', 'dead', 'parked')),
  attempts       INTEGER NOT NULL DEFAULT 0,   -- leases granted so far
  lease_token    INTEGER NOT NULL DEFAULT 0,   -- current (or last) fencing token
  worker         TEXT    NOT NULL DEFAULT '',
  lease_until_ms INTEGER NOT NULL DEFAULT 0,
  not_before_ms  INTEGER NOT NULL DEFAULT 0,   -- back-off: not dispatched before this time
  last_error     TEXT    NOT NULL DEFAULT '',
  created_ms     INTEGER NOT NULL,
  updated_ms     INTEGER NOT NULL,
  epoch          INTEGER NOT NULL DEFAULT 0 CHECK (epoch >= 0),
  retry_floor    INTEGER NOT NULL DEFAULT 0,
  method_template_id INTEGER NOT NULL DEFAULT 0  -- method_templates.id (0015); 0: built-in
);
INSERT INTO jobs_new (id, cell_key, sweep_id, task, complexity, sample, variant_id, method, turns,
                      state, attempts, lease_token, worker, lease_until_ms, not_before_ms,
                      last_error, created_ms, updated_ms, epoch, retry_floor, method_template_id)
  SELECT id, cell_key, sweep_id, task, complexity, sample, variant_id, method, turns, state,
         attempts, lease_token, worker, lease_until_ms, not_before_ms, last_error, created_ms,
         updated_ms, epoch, retry_floor, method_template_id FROM jobs;
DROP TABLE jobs;
ALTER TABLE jobs_new RENAME TO jobs;
DELETE FROM meta WHERE key IN ('later_index/jobs_report', 'later_index/jobs_view_pair');

CREATE UNIQUE INDEX jobs_cell_key ON jobs (cell_key);
CREATE INDEX jobs_pending ON jobs (id, not_before_ms) WHERE state = 'pending';
CREATE INDEX jobs_leased ON jobs (lease_until_ms) WHERE state = 'leased';
CREATE INDEX jobs_parked ON jobs (id) WHERE state = 'parked';
CREATE INDEX jobs_report ON jobs (sweep_id, variant_id, task, method, turns, complexity);
CREATE INDEX jobs_view_pair ON jobs (sweep_id, task, complexity, sample, turns, method, variant_id);
CREATE INDEX jobs_unfinished_error ON jobs (sweep_id, variant_id, method, turns, last_error)
  WHERE state IN ('failed', 'dead');
CREATE INDEX jobs_view_error ON jobs (last_error) WHERE last_error <> '';

-- The attempt that parked a cell ends with outcome 'parked' (its attempt is given back).
CREATE TABLE attempts_new (
  lease_token    INTEGER PRIMARY KEY,
  job_id         INTEGER NOT NULL REFERENCES jobs (id),
  attempt        INTEGER NOT NULL,             -- 1-based
  worker         TEXT    NOT NULL,
  started_ms     INTEGER NOT NULL,
  lease_until_ms INTEGER NOT NULL,
  ended_ms       INTEGER,                      -- NULL while running
  outcome        TEXT CHECK (outcome IN ('done', 'failed', 'retry', 'dead', 'requeued',
                                         'parked')),
  error          TEXT    NOT NULL DEFAULT ''
);
INSERT INTO attempts_new (lease_token, job_id, attempt, worker, started_ms, lease_until_ms,
                          ended_ms, outcome, error)
  SELECT lease_token, job_id, attempt, worker, started_ms, lease_until_ms, ended_ms, outcome,
         error FROM attempts;
DROP TABLE attempts;
ALTER TABLE attempts_new RENAME TO attempts;
CREATE INDEX attempts_job ON attempts (job_id);
