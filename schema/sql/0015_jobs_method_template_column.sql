-- 0015_jobs_method_template_column: which declared method definition a job runs
-- (method_templates.id); 0 for built-in methods and every job from before. No read-only query
-- reads the column, so status, report and show read a database that lacks it (*_column.sql).
ALTER TABLE jobs ADD COLUMN method_template_id INTEGER NOT NULL DEFAULT 0;
