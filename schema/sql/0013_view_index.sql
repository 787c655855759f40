-- 0013_view_index: the error-text filter of `codesweep view` (docs/view.md) reads only the jobs
-- that have an error (a few per cent), not every job's last_error. Built with the grid load like
-- jobs_unfinished_error: after a load into an empty table it is empty.
CREATE INDEX jobs_view_error ON jobs (last_error) WHERE last_error <> '';
