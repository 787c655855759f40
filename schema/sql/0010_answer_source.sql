-- 0010_answer_source: where the judged answer of each result came from (docs/tasks.md): 'tags'
-- (the last <<<...>>>), 'fallback' (the task's documented fallback for a reply without <<<>>>),
-- 'none' (nothing answer-like found). Results recorded before this migration keep ''.
ALTER TABLE results ADD COLUMN answer_source TEXT NOT NULL DEFAULT '';

-- Per (sweep, model setting, task, method, turns): how many results, and how many correct ones,
-- read their answer from <<<>>> and from a fallback. The report shows both numbers. (This view
-- lives here rather than in report/sql: two migration files with one number would run only the
-- first.)
CREATE VIEW v_answer_source AS
SELECT s.name AS sweep, st.model, j.task, j.method, j.turns,
       count(*) AS n,
       sum(r.answer_source = 'tags') AS tagged,
       sum(r.correct AND r.answer_source = 'tags') AS correct_tagged,
       sum(r.answer_source = 'fallback') AS fallback,
       sum(r.correct AND r.answer_source = 'fallback') AS correct_fallback
FROM results r
JOIN jobs j ON j.id = r.job_id
JOIN sweeps s ON s.id = j.sweep_id
JOIN v_setting st ON st.sweep_id = j.sweep_id AND st.variant_id = j.variant_id
GROUP BY s.name, st.model, j.task, j.method, j.turns;
