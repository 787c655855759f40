-- 0008_runs_newtable: provenance of every `run` and `coordinator` start (docs/schema.md). It adds
-- a table and nothing else, so read-only tools may open a database without it (they show no
-- provenance then; the next writer applies it): Store::Open skips a *_newtable.sql migration for
-- readers, as it does *_index.sql.
CREATE TABLE runs (
  id           INTEGER PRIMARY KEY,
  sweep_id     INTEGER NOT NULL REFERENCES sweeps (id),
  command      TEXT    NOT NULL,            -- 'run' or 'coordinator'
  version      TEXT    NOT NULL,            -- codesweep --version
  git_commit   TEXT    NOT NULL,            -- of the build ('' when built outside git)
  sweep_sha256 TEXT    NOT NULL,            -- hex SHA-256 of the sweep file's bytes
  host         TEXT    NOT NULL,
  pid          INTEGER NOT NULL,
  started_ms   INTEGER NOT NULL
);
CREATE INDEX runs_sweep ON runs (sweep_id, id);
