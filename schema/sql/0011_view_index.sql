-- 0011_view_index: indexes for `codesweep view` (docs/view.md) at a million cells.
-- results_finished: the sweep page's cells per second over the last minute is a range read, not a
-- scan of every result.
CREATE INDEX results_finished ON results (finished_ms);
-- jobs_view_pair: Compare finds the partner of each cell (same sweep, task, complexity, sample and
-- turns; the other method or model) by one index lookup. Only the viewer reads it, so a grid load
-- builds it when the sweep has finished, like jobs_report (coordinator/store/store_impl.h).
CREATE INDEX jobs_view_pair ON jobs (sweep_id, task, complexity, sample, turns, method, variant_id);
