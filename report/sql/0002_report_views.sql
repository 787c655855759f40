-- 0002_report_views: the views behind `codesweep report` (docs/reports.md shows each query and
-- which report column it feeds) and two indexes for them. No table changes. A read-only report on
-- a database still at version 1 creates these views as TEMP views and goes without the indexes. Percentages are 0-100; times are seconds unless the name says _ms.
-- A report "method" is the pair (method, turns): the same method at 1 and 2 turns is two rows.
-- A model is its id string: variants of one model (e.g. two temperatures) are pooled.

-- The finest grain every report number is derived from: one row per
-- (sweep, model, task, method, turns, complexity) with sums, so coarser numbers are exact sums.
-- complexity_order: the smallest job id of the level, so levels sort in grid order (1_1, 2_2, ...).
CREATE VIEW v_report_grain AS
SELECT s.name AS sweep, v.model, g.task, g.method, g.turns, g.complexity,
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
JOIN variants v ON v.id = g.variant_id;

-- Table 1: success rate per (sweep, model, task, method, turns) with n and the 95 % Wilson
-- score interval (z = 1.959964), and the mean partial score (equals success where a task has no
-- partial score).
CREATE VIEW v_task_success AS
WITH t AS (
  SELECT sweep, model, task, method, turns,
         sum(n) AS n, sum(correct) AS correct, sum(score_sum) AS score_sum
  FROM v_report_grain
  GROUP BY sweep, model, task, method, turns
), w AS (
  SELECT *, 1.0 * correct / n AS p, 1.959964 * 1.959964 AS z2 FROM t
)
SELECT sweep, model, task, method, turns, n, correct,
       100.0 * p AS success_pct,
       100.0 * ((p + z2 / (2.0 * n)) - 1.959964 * sqrt(p * (1 - p) / n + z2 / (4.0 * n * n)))
         / (1 + z2 / n) AS wilson_lo_pct,
       100.0 * ((p + z2 / (2.0 * n)) + 1.959964 * sqrt(p * (1 - p) / n + z2 / (4.0 * n * n)))
         / (1 + z2 / n) AS wilson_hi_pct,
       100.0 * score_sum / n AS mean_score_pct
FROM w;

-- Table 2, step 1: normalized score of each (model, method) on each task = its success divided by
-- the best method's success on that task (same sweep and model). Tasks whose best is 0 are left
-- out (0/0 says nothing about a method).
CREATE VIEW v_task_normalized AS
SELECT sweep, model, task, method, turns, success_pct,
       success_pct / max(success_pct) OVER (PARTITION BY sweep, model, task) AS normalized
FROM v_task_success;

-- Table 2, step 2: average normalized score (%) per (sweep, model, method) over the tasks the
-- method was run on, and its rank among the methods run on that model: 1 + the number of methods
-- with a strictly higher score (ties share the better rank).
CREATE VIEW v_method_score AS
WITH m AS (
  SELECT sweep, model, method, turns, count(*) AS tasks,
         100.0 * avg(normalized) AS avg_norm_pct
  FROM v_task_normalized
  WHERE normalized IS NOT NULL
  GROUP BY sweep, model, method, turns
)
SELECT *, rank() OVER (PARTITION BY sweep, model ORDER BY avg_norm_pct DESC) AS rank,
       count(*) OVER (PARTITION BY sweep, model) AS methods_tested
FROM m;

-- Table 2, step 3: per (sweep, method) across the sweep's models: the average score over the
-- models the method was run on (NA skipped) and the average rank over ALL models, a method not
-- run on a model ranking methods_tested + 1 there.
CREATE VIEW v_method_summary AS
WITH s AS MATERIALIZED (
  SELECT * FROM v_method_score
), models AS (
  SELECT DISTINCT sweep, model, methods_tested FROM s
), methods AS (
  SELECT DISTINCT sweep, method, turns FROM s
), grid AS (
  SELECT me.sweep, me.method, me.turns, mo.model,
         s.avg_norm_pct, coalesce(s.rank, mo.methods_tested + 1) AS rank
  FROM methods me
  JOIN models mo ON mo.sweep = me.sweep
  LEFT JOIN s
    ON s.sweep = me.sweep AND s.model = mo.model AND s.method = me.method AND s.turns = me.turns
)
SELECT sweep, method, turns,
       count(avg_norm_pct) AS models_run,
       avg(avg_norm_pct) AS avg_score_pct,
       avg(rank) AS avg_rank
FROM grid
GROUP BY sweep, method, turns;

-- Complexity curves: success and code-usage fraction (%) per complexity level.
CREATE VIEW v_complexity AS
SELECT sweep, model, task, method, turns, complexity,
       min(complexity_order) AS complexity_order, sum(n) AS n,
       100.0 * sum(correct) / sum(n) AS success_pct,
       100.0 * sum(code_used) / sum(n) AS code_used_pct,
       100.0 * sum(score_sum) / sum(n) AS mean_score_pct
FROM v_report_grain
GROUP BY sweep, model, task, method, turns, complexity;

-- Cost per sample per (sweep, model, method): tokens (in + out), runtime in seconds, dollars.
-- From the verdicts (results), i.e. the attempt that produced each answer.
CREATE VIEW v_method_cost AS
SELECT sweep, model, method, turns, sum(n) AS n,
       1.0 * sum(tokens_in + tokens_out) / sum(n) AS tokens_per_sample,
       1.0 * sum(tokens_in) / sum(n) AS tokens_in_per_sample,
       1.0 * sum(tokens_out) / sum(n) AS tokens_out_per_sample,
       sum(wall_ms) / 1000.0 / sum(n) AS runtime_s_per_sample,
       sum(cost_usd) / sum(n) AS cost_usd_per_sample,
       sum(cost_usd) AS cost_usd
FROM v_report_grain
GROUP BY sweep, model, method, turns;

-- What was paid per (sweep, model): every call of every attempt (failed and retried attempts
-- too), 429s seen and HTTP retries (attempts beyond the first), cache hits and call errors.
CREATE VIEW v_model_cost AS
SELECT s.name AS sweep, v.model, sum(c.calls) AS calls, sum(c.cached) AS cached,
       sum(c.errors) AS errors, sum(c.tokens_in) AS tokens_in, sum(c.tokens_out) AS tokens_out,
       sum(c.cost_usd) AS cost_usd, sum(c.rate_limited) AS rate_limited,
       sum(c.retries) AS retries
FROM (SELECT j.sweep_id, j.variant_id,
             count(*) AS calls,
             sum(k.cached) AS cached,
             sum(k.error <> '') AS errors,
             sum(k.tokens_in) AS tokens_in,
             sum(k.tokens_out) AS tokens_out,
             sum(k.cost_usd) AS cost_usd,
             sum(k.rate_limited) AS rate_limited,
             sum(max(k.attempts - 1, 0)) AS retries
      FROM calls k
      JOIN jobs j ON j.id = k.job_id
      GROUP BY j.sweep_id, j.variant_id) c
JOIN sweeps s ON s.id = c.sweep_id
JOIN variants v ON v.id = c.variant_id
GROUP BY s.name, v.model;

-- Indexes for the two views the report reads. jobs_report lets v_report_grain and v_model_cost
-- walk the jobs in group order (no sort of a million rows); calls_report covers v_model_cost,
-- so it never reads the request and response JSON of the calls.
CREATE INDEX jobs_report ON jobs (sweep_id, variant_id, task, method, turns, complexity);
CREATE INDEX calls_report ON calls (job_id, cached, tokens_in, tokens_out, cost_usd, rate_limited,
                                    attempts, error);
