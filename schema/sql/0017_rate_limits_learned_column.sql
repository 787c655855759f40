-- 0017_rate_limits_learned_column: what each rate-limit bucket learned of its calls' tokens (actual
-- tokens / the worker's estimate, the input share, and from how many results), written with the
-- live state so that the next coordinator on the same database starts from it instead of the
-- worker's raw estimate (docs/ratelimit.md). Read by the coordinator only; learned_samples = 0:
-- nothing learned.
ALTER TABLE rate_limits ADD COLUMN est_ratio REAL NOT NULL DEFAULT 1;
ALTER TABLE rate_limits ADD COLUMN input_share REAL NOT NULL DEFAULT 0.5;
ALTER TABLE rate_limits ADD COLUMN learned_samples INTEGER NOT NULL DEFAULT 0;
