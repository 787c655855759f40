-- 0018_batches_newtable: provider batches (batch mode, docs/batch.md). Only new tables: read-only
-- tools look for them before reading them.
--
-- batches: one row per provider batch. A row is written (state 'creating') and committed before
-- the provider is asked to create the batch, and the provider's id is committed before the
-- upload counts as done, so a restarted coordinator knows every batch it may have made.
CREATE TABLE batches (
  id             INTEGER PRIMARY KEY,
  provider       TEXT    NOT NULL,             -- 'openai' or 'anthropic'
  model          TEXT    NOT NULL,             -- model name (after the provider prefix)
  key_alias      TEXT    NOT NULL,
  base_url       TEXT    NOT NULL,
  api_key_env    TEXT    NOT NULL,             -- names the key's variable, never the key
  sweep_id       INTEGER NOT NULL DEFAULT 0,
  variant_id     INTEGER NOT NULL DEFAULT 0,   -- of one of its requests: the model's options
  provider_id    TEXT    NOT NULL DEFAULT '',  -- 'batch_...' / 'msgbatch_...'; '' until created
  input_file_id  TEXT    NOT NULL DEFAULT '',  -- OpenAI: the uploaded JSONL file
  state          TEXT    NOT NULL DEFAULT 'creating'
                 CHECK (state IN ('creating', 'submitted', 'in_progress', 'ended', 'expired',
                                  'cancelled', 'failed', 'refused')),
  n_requests     INTEGER NOT NULL DEFAULT 0,
  n_done         INTEGER NOT NULL DEFAULT 0,   -- answered
  n_failed       INTEGER NOT NULL DEFAULT 0,   -- errored, expired or cancelled
  bytes          INTEGER NOT NULL DEFAULT 0,
  est_tokens     INTEGER NOT NULL DEFAULT 0,
  cost_usd       REAL    NOT NULL DEFAULT 0,   -- of its answered requests, at batch prices
  sync_cost_usd  REAL    NOT NULL DEFAULT 0,   -- what they would have cost sent synchronously
  error          TEXT    NOT NULL DEFAULT '',
  created_ms     INTEGER NOT NULL,
  updated_ms     INTEGER NOT NULL,
  ended_ms       INTEGER NOT NULL DEFAULT 0,
  next_poll_ms   INTEGER NOT NULL DEFAULT 0,
  -- `codesweep batches cancel`: when the user cancelled it (0: not). Its unanswered requests are
  -- not sent again: the cells waiting for them end failed (`codesweep retry` runs them again).
  cancel_requested_ms INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX batches_live ON batches (state) WHERE state IN ('creating', 'submitted', 'in_progress');

-- batch_requests: one row per call key sent (or to be sent) in a batch. 'queued' rows wait for
-- the next flush; 'sent' rows are in batch batch_id; 'done' ones are in the call cache; 'failed'
-- ones carry the per-request error the waiting cells end with.
CREATE TABLE batch_requests (
  call_key       TEXT    PRIMARY KEY,
  provider       TEXT    NOT NULL,
  model          TEXT    NOT NULL,
  key_alias      TEXT    NOT NULL,
  sweep_id       INTEGER NOT NULL DEFAULT 0,
  variant_id     INTEGER NOT NULL DEFAULT 0,
  body           TEXT    NOT NULL,             -- the provider request body (no secrets)
  est_tokens     INTEGER NOT NULL DEFAULT 0,
  state          TEXT    NOT NULL DEFAULT 'queued'
                 CHECK (state IN ('queued', 'sent', 'done', 'failed')),
  batch_id       INTEGER NOT NULL DEFAULT 0,   -- batches.id while sent (and after)
  tries          INTEGER NOT NULL DEFAULT 0,   -- batches it was sent in
  http_status    INTEGER NOT NULL DEFAULT 0,   -- of a per-request error
  error          TEXT    NOT NULL DEFAULT '',
  cost_usd       REAL    NOT NULL DEFAULT 0,
  queued_ms      INTEGER NOT NULL,
  updated_ms     INTEGER NOT NULL
);
CREATE INDEX batch_requests_state ON batch_requests (state, provider, model, key_alias, queued_ms);
CREATE INDEX batch_requests_batch ON batch_requests (batch_id);

-- batch_waits: the calls a cell parked on; 'answered' once its batch ended. A run of the cell
-- records an answered call as its own paid call (at batch prices), not as a cache hit, so the
-- run that finishes the cell records every batch call it made.
CREATE TABLE batch_waits (
  job_id         INTEGER NOT NULL REFERENCES jobs (id),
  call_key       TEXT    NOT NULL,
  answered       INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (job_id, call_key)
);
CREATE INDEX batch_waits_key ON batch_waits (call_key);

-- cell_executions: the code executions of a parked cell's runs, replayed (not run again) by its
-- next run so that its trajectory stays the same.
CREATE TABLE cell_executions (
  job_id          INTEGER PRIMARY KEY REFERENCES jobs (id),
  executions_json TEXT    NOT NULL
);
