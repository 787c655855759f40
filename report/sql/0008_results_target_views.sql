-- 0008_results_target_views: v_results gains `target`, the expected answer of the cell's
-- instance, which the runner records in results.extra_json as "target" (NULL for results
-- recorded before it did). Copied from 0001_init.sql; only the target column is new.
DROP VIEW v_results;

-- One row per finished cell (a job with a verdict).
CREATE VIEW v_results AS
SELECT s.name AS sweep,
       CASE typeof(j.cell_key) WHEN 'blob' THEN lower(hex(j.cell_key)) ELSE j.cell_key END
         AS cell_key,
       j.id AS job_id,
       j.task, j.complexity, j.sample,
       v.model, v.provider,
       j.method, j.turns,
       r.correct, r.score, r.passed_by, r.code_used, r.code_ok, r.turns_used,
       r.n_calls AS calls, r.n_executions AS executions,
       r.tokens_in, r.tokens_out, r.tokens_estimated, r.cost_usd, r.wall_ms,
       r.final_answer,
       CASE WHEN json_valid(r.extra_json) THEN CAST(json_extract(r.extra_json, '$.target') AS TEXT)
       END AS target,
       r.verdict_reason, r.finished_ms
FROM results r
JOIN jobs j ON j.id = r.job_id
JOIN sweeps s ON s.id = j.sweep_id
JOIN variants v ON v.id = j.variant_id;
