-- 0007_retry_budget_writer: what `codesweep retry` and the sweep budgets keep (docs/schema.md).
-- A writer migration: only writers read these columns (`status` reads stop_reason if present),
-- so read-only tools may open a database that still lacks it.
-- jobs.retry_floor: the lease token the job had when a user last retried it. Attempts with a
-- token at or below it are history from before that retry: they stay in `attempts` (and their
-- calls in `calls`), but no longer count towards the lost-worker bound of the fresh attempts.
ALTER TABLE jobs ADD COLUMN retry_floor INTEGER NOT NULL DEFAULT 0;
-- sweeps.stop_reason: why the coordinator stopped starting cells of the sweep (a budget in the
-- sweep file was reached); '' while nothing stops it. Every coordinator start recomputes it.
ALTER TABLE sweeps ADD COLUMN stop_reason TEXT NOT NULL DEFAULT '';
