-- 0004_jobs_cell_key_index: the uniqueness of jobs.cell_key moves from an inline UNIQUE
-- constraint (an automatic index that can never be dropped) to the named unique index
-- jobs_cell_key. A grid load into an empty jobs table can then drop the jobs indexes, append the
-- rows in grid order and build each index with one sort at the end, instead of one random B-tree
-- insert per cell into the cell-key index (coordinator/store_grid.cc: BeginCellLoad).
-- The table is rebuilt by SQLite's documented procedure; the migration runner turns foreign keys
-- off and legacy_alter_table on around it and runs foreign_key_check before it commits.
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
INSERT INTO jobs_new SELECT * FROM jobs;
DROP TABLE jobs;
ALTER TABLE jobs_new RENAME TO jobs;

-- The jobs indexes, all named (BeginCellLoad drops and FinishCellLoad rebuilds exactly these;
-- keep the list in coordinator/store_grid.cc in step).
CREATE UNIQUE INDEX jobs_cell_key ON jobs (cell_key);
CREATE INDEX jobs_pending ON jobs (id, not_before_ms) WHERE state = 'pending';
CREATE INDEX jobs_leased ON jobs (lease_until_ms) WHERE state = 'leased';
CREATE INDEX jobs_report ON jobs (sweep_id, variant_id, task, method, turns, complexity);
