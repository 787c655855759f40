-- 0019_jobs_unfinished_error_index: jobs_unfinished_error (report/sql/0005, the failed and dead
-- jobs only) also holds each job's task, state and complexity, so that `codesweep view`'s Errors
-- page (grouped by sweep, setting, task, method, state and error text) and its counts of failed
-- or dead cells read the index alone instead of one job row per failed cell (docs/view.md). The
-- columns come after the old ones, so v_jobs_state reads it as before.
DROP INDEX jobs_unfinished_error;
CREATE INDEX jobs_unfinished_error ON jobs (sweep_id, variant_id, method, turns, last_error, task,
                                            state, complexity)
  WHERE state IN ('failed', 'dead');
