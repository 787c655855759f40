-- Live state of the coordinator's rate limiter: one row per (provider, model, key alias) bucket,
-- rewritten about once a second while a coordinator runs (read by `codesweep status`).
-- Limits: 0 = unlimited; *_available: -1 = unlimited; cap: 0 = no in-flight cap yet.
CREATE TABLE rate_limits (
  provider           TEXT    NOT NULL,
  model              TEXT    NOT NULL,
  key_alias          TEXT    NOT NULL,
  rpm                REAL    NOT NULL,
  tpm                REAL    NOT NULL,
  input_tpm          REAL    NOT NULL,
  output_tpm         REAL    NOT NULL,
  requests_available REAL    NOT NULL,
  tokens_available   REAL    NOT NULL,
  in_flight          INTEGER NOT NULL,
  cap                INTEGER NOT NULL,
  max_concurrency    INTEGER NOT NULL,
  queued             INTEGER NOT NULL,
  granted            INTEGER NOT NULL,
  ok                 INTEGER NOT NULL,
  rate_limited       INTEGER NOT NULL,
  cooldown_ms        INTEGER NOT NULL,
  updated_ms         INTEGER NOT NULL,
  PRIMARY KEY (provider, model, key_alias)
);
