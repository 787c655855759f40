-- 0006_jobs_epoch_column: the draw index of a repeated cell (a sweep's `epochs = K` runs every cell K
-- times). Existing jobs are epoch 0, which is what they are: a cell's first draw keeps the key
-- it had before epochs existed, so no job changes its identity here. No read-only query reads the
-- column, so status, report and show read a database that lacks it (*_column.sql).
ALTER TABLE jobs ADD COLUMN epoch INTEGER NOT NULL DEFAULT 0 CHECK (epoch >= 0);
