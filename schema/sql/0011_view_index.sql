-- 0011_view_index: indexes for `codesweep view` (docs/view.md) at a million cells.
-- results_finished: the sweep page's cells per second over the last minute and the first and last
-- finish times are range reads, not scans of every result.
CREATE INDEX results_finished ON results (finished_ms);
