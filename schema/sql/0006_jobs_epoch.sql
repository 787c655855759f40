-- 0006_jobs_epoch: the draw index of a repeated cell (a sweep's `epochs = K` runs every cell K
-- times). Existing jobs are epoch 0, which is what they are: a cell's first draw keeps the key
-- it had before epochs existed, so no job changes its identity here.
ALTER TABLE jobs ADD COLUMN epoch INTEGER NOT NULL DEFAULT 0 CHECK (epoch >= 0);
