-- 0010_answer_source_views: where the judged answer of each result came from (docs/tasks.md):
-- 'tags' (the last <<<...>>>), 'fallback' (the task's documented fallback for a reply without
-- <<<>>>), 'none' (nothing answer-like found). Results recorded before this migration keep ''.
-- The column and its view are one file: the migration runner applies one file per version
-- number, and as a views migration a read-only report on an older database still works (it
-- gets the view as a TEMP view, and ReportDb::AnswerSources reads nothing without the column).
ALTER TABLE results ADD COLUMN answer_source TEXT NOT NULL DEFAULT '';

-- Per (sweep, model setting, task, method, turns): how many results, and how many correct ones,
-- read their answer from <<<>>> and from a fallback. The report shows both numbers.
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
