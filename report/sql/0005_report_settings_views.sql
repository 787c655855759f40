-- 0005_report_settings_views: results are never pooled across settings (docs/reports.md).
-- * A model in every view is its setting: the model id alone when the sweep ran one variant of it,
--   else the id followed by its generation settings (and a short content hash when two variants
--   share those too), so two temperatures of one model are two rows.
-- * The paper's average normalized score is computed within each (model, turns) setting: the
--   best method on a task is the best among the methods run at the same turns.
-- * v_summary and v_jobs_state group by turns as well, and v_jobs_state feeds the report's count
--   of failed and dead cells, which the tables leave out.
-- Every view this replaces is dropped first; views are resolved when used, so order is free.
DROP VIEW v_summary;
DROP VIEW v_jobs_state;
DROP VIEW v_report_grain;
DROP VIEW v_task_normalized;
DROP VIEW v_method_score;
DROP VIEW v_method_summary;
DROP VIEW v_model_cost;

-- The label of every variant of every sweep: (sweep_id, variant_id) -> model setting.
CREATE VIEW v_setting AS
WITH u AS (
  SELECT DISTINCT j.sweep_id, j.variant_id FROM jobs j
), l AS (
  SELECT u.sweep_id, u.variant_id, v.model, v.gen_json, v.content_hash,
         count(*) OVER (PARTITION BY u.sweep_id, v.model) AS variants,
         count(*) OVER (PARTITION BY u.sweep_id, v.model, v.gen_json) AS same_gen
  FROM u
  JOIN variants v ON v.id = u.variant_id
)
SELECT sweep_id, variant_id,
       CASE WHEN variants = 1 THEN model
            WHEN same_gen = 1 THEN model || ' ' || gen_json
            ELSE model || ' ' || gen_json || ' #' || substr(content_hash, 1, 8) END AS model
FROM l;

-- Per (sweep, task, model setting, method, turns): how many cells finished and how well.
CREATE VIEW v_summary AS
SELECT s.name AS sweep, j.task, st.model, j.method, j.turns,
       count(*) AS n,
       sum(r.correct) AS correct,
       round(avg(r.correct), 4) AS success_rate,
       round(avg(r.score), 4) AS mean_score,
       round(avg(r.code_used), 4) AS code_used_frac,
       sum(r.tokens_in) AS tokens_in,
       sum(r.tokens_out) AS tokens_out,
       round(sum(r.cost_usd), 6) AS cost_usd
FROM results r
JOIN jobs j ON j.id = r.job_id
JOIN sweeps s ON s.id = j.sweep_id
JOIN v_setting st ON st.sweep_id = j.sweep_id AND st.variant_id = j.variant_id
GROUP BY s.name, j.task, st.model, j.method, j.turns;

-- Per (sweep, model setting, method, turns): job counts by state, and the most common last error
-- of the failed and dead jobs.
CREATE VIEW v_jobs_state AS
SELECT s.name AS sweep, st.model, g.method, g.turns, g.total, g.pending, g.leased, g.done,
       g.failed, g.dead,
       (SELECT j2.last_error FROM jobs j2
        WHERE j2.sweep_id = g.sweep_id AND j2.variant_id = g.variant_id
          AND j2.method = g.method AND j2.turns = g.turns AND j2.state IN ('failed', 'dead')
        GROUP BY j2.last_error ORDER BY count(*) DESC, j2.last_error LIMIT 1) AS top_error
FROM (SELECT j.sweep_id, j.variant_id, j.method, j.turns,
             count(*) AS total,
             sum(j.state = 'pending') AS pending,
             sum(j.state = 'leased') AS leased,
             sum(j.state = 'done') AS done,
             sum(j.state = 'failed') AS failed,
             sum(j.state = 'dead') AS dead
      FROM jobs j
      GROUP BY j.sweep_id, j.variant_id, j.method, j.turns) g
JOIN sweeps s ON s.id = g.sweep_id
JOIN v_setting st ON st.sweep_id = g.sweep_id AND st.variant_id = g.variant_id;

-- The finest grain every report number is derived from: one row per
-- (sweep, model setting, task, method, turns, complexity) with sums, so coarser numbers are exact sums.
-- complexity_order: the smallest job id of the level, so levels sort in grid order (1_1, 2_2, ...).
CREATE VIEW v_report_grain AS
SELECT s.name AS sweep, st.model, g.task, g.method, g.turns, g.complexity,
       g.complexity_order, g.n, g.correct, g.score_sum, g.code_used, g.code_ok,
       g.tokens_in, g.tokens_out, g.cost_usd, g.wall_ms, g.calls
FROM (SELECT j.sweep_id, j.variant_id, j.task, j.method, j.turns, j.complexity,
             min(j.id) AS complexity_order,
             count(*) AS n,
             sum(r.correct) AS correct,
             sum(r.score) AS score_sum,
             sum(r.code_used) AS code_used,
             sum(r.code_ok) AS code_ok,
             sum(r.tokens_in) AS tokens_in,
             sum(r.tokens_out) AS tokens_out,
             sum(r.cost_usd) AS cost_usd,
             sum(r.wall_ms) AS wall_ms,
             sum(r.n_calls) AS calls
      FROM results r
      JOIN jobs j ON j.id = r.job_id
      GROUP BY j.sweep_id, j.variant_id, j.task, j.method, j.turns, j.complexity) g
JOIN sweeps s ON s.id = g.sweep_id
JOIN v_setting st ON st.sweep_id = g.sweep_id AND st.variant_id = g.variant_id;

-- Table 2, step 1: normalized score of each (model, method) on each task = its success divided by
-- the best method's success on that task in the same setting (sweep, model, turns). Tasks whose
-- best is 0 are left out (0/0 says nothing about a method).
CREATE VIEW v_task_normalized AS
SELECT sweep, model, task, method, turns, success_pct,
       success_pct / max(success_pct) OVER (PARTITION BY sweep, model, turns, task) AS normalized
FROM v_task_success;

-- Table 2, step 2: average normalized score (%) per (sweep, model, method, turns) over the tasks
-- the method was run on, and its rank among the methods run on that model at the same turns:
-- 1 + the number of methods with a strictly higher score (ties share the better rank).
CREATE VIEW v_method_score AS
WITH m AS (
  SELECT sweep, model, method, turns, count(*) AS tasks,
         100.0 * avg(normalized) AS avg_norm_pct
  FROM v_task_normalized
  WHERE normalized IS NOT NULL
  GROUP BY sweep, model, method, turns
)
SELECT *, rank() OVER (PARTITION BY sweep, model, turns ORDER BY avg_norm_pct DESC) AS rank,
       count(*) OVER (PARTITION BY sweep, model, turns) AS methods_tested
FROM m;

-- Table 2, step 3: per (sweep, method, turns) across the models run at those turns: the average
-- score over the models the method was run on (NA skipped) and the average rank over ALL of
-- them, a method not run on a model ranking methods_tested + 1 there.
CREATE VIEW v_method_summary AS
WITH s AS MATERIALIZED (
  SELECT * FROM v_method_score
), models AS (
  SELECT DISTINCT sweep, model, turns, methods_tested FROM s
), methods AS (
  SELECT DISTINCT sweep, method, turns FROM s
), grid AS (
  SELECT me.sweep, me.method, me.turns, mo.model,
         s.avg_norm_pct, coalesce(s.rank, mo.methods_tested + 1) AS rank
  FROM methods me
  JOIN models mo ON mo.sweep = me.sweep AND mo.turns = me.turns
  LEFT JOIN s
    ON s.sweep = me.sweep AND s.model = mo.model AND s.method = me.method AND s.turns = me.turns
)
SELECT sweep, method, turns,
       count(avg_norm_pct) AS models_run,
       avg(avg_norm_pct) AS avg_score_pct,
       avg(rank) AS avg_rank
FROM grid
GROUP BY sweep, method, turns;

-- What was paid per (sweep, model setting): every call of every attempt (failed and retried
-- attempts too), 429s seen and HTTP retries (attempts beyond the first), cache hits and call errors.
-- tokens_in/out are the tokens paid for (calls sent to the provider); replayed_tokens_in/out are
-- those of calls answered from the call cache, which cost nothing again.
CREATE VIEW v_model_cost AS
SELECT s.name AS sweep, st.model, sum(c.calls) AS calls, sum(c.cached) AS cached,
       sum(c.errors) AS errors, sum(c.tokens_in) AS tokens_in, sum(c.tokens_out) AS tokens_out,
       sum(c.cost_usd) AS cost_usd, sum(c.rate_limited) AS rate_limited,
       sum(c.retries) AS retries, sum(c.replayed_in) AS replayed_tokens_in,
       sum(c.replayed_out) AS replayed_tokens_out
FROM (SELECT j.sweep_id, j.variant_id,
             count(*) AS calls,
             sum(k.cached) AS cached,
             sum(k.error <> '') AS errors,
             sum(CASE WHEN k.cached THEN 0 ELSE k.tokens_in END) AS tokens_in,
             sum(CASE WHEN k.cached THEN 0 ELSE k.tokens_out END) AS tokens_out,
             sum(CASE WHEN k.cached THEN k.tokens_in ELSE 0 END) AS replayed_in,
             sum(CASE WHEN k.cached THEN k.tokens_out ELSE 0 END) AS replayed_out,
             sum(k.cost_usd) AS cost_usd,
             sum(k.rate_limited) AS rate_limited,
             sum(max(k.attempts - 1, 0)) AS retries
      FROM calls k
      JOIN jobs j ON j.id = k.job_id
      GROUP BY j.sweep_id, j.variant_id) c
JOIN sweeps s ON s.id = c.sweep_id
JOIN v_setting st ON st.sweep_id = c.sweep_id AND st.variant_id = c.variant_id
GROUP BY s.name, st.model;

-- v_jobs_state's most common error: only the failed and dead jobs, so the index stays small.
CREATE INDEX jobs_unfinished_error ON jobs (sweep_id, variant_id, method, turns, last_error)
  WHERE state IN ('failed', 'dead');
