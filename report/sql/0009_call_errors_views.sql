-- 0009_call_errors_views: v_model_cost (copied from 0005_report_settings_views) gains
-- prompt_truncated, the calls whose provider reported fewer prompt tokens than the request holds.
-- Its retries and errors count the HTTP attempts of failed calls too, which are now recorded.
DROP VIEW v_model_cost;

-- What was paid per (sweep, model setting): every call of every attempt (failed and retried
-- attempts too), 429s seen and HTTP retries (attempts beyond the first), cache hits and call errors.
-- tokens_in/out are the tokens paid for (calls sent to the provider); replayed_tokens_in/out are
-- those of calls answered from the call cache, which cost nothing again.
CREATE VIEW v_model_cost AS
SELECT s.name AS sweep, st.model, sum(c.calls) AS calls, sum(c.cached) AS cached,
       sum(c.errors) AS errors, sum(c.tokens_in) AS tokens_in, sum(c.tokens_out) AS tokens_out,
       sum(c.cost_usd) AS cost_usd, sum(c.rate_limited) AS rate_limited,
       sum(c.retries) AS retries, sum(c.replayed_in) AS replayed_tokens_in,
       sum(c.replayed_out) AS replayed_tokens_out, sum(c.prompt_truncated) AS prompt_truncated
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
             sum(max(k.attempts - 1, 0)) AS retries,
             sum(k.prompt_truncated) AS prompt_truncated
      FROM calls k
      JOIN jobs j ON j.id = k.job_id
      GROUP BY j.sweep_id, j.variant_id) c
JOIN sweeps s ON s.id = c.sweep_id
JOIN v_setting st ON st.sweep_id = c.sweep_id AND st.variant_id = c.variant_id
GROUP BY s.name, st.model;
