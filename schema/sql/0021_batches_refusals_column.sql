-- 0021_batches_refusals_column: how many refused uploads one 'refused' batches row stands for
-- (batch mode, docs/batch.md). An upload the provider refuses for its queue limit, or that cannot
-- reach the provider, is tried again every batch_poll_s; consecutive refusals of one (provider,
-- model, key alias, sweep) are folded into the row of the first one (its count, last error and
-- time) instead of one row per try, so a provider that refuses for hours does not grow the table.
-- Read by the coordinator only; 1 for every other row.
ALTER TABLE batches ADD COLUMN refusals INTEGER NOT NULL DEFAULT 1;
