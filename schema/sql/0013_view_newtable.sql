-- 0013_view_newtable: what `codesweep view` reads at a million cells without scanning them
-- (docs/view.md, docs/schema.md). Four tables, each filled from what the database already holds
-- and then kept by triggers in the transaction that writes a result or a call, so they are exact
-- at every commit, also while a sweep runs. Only `codesweep view` reads them, and it looks for
-- them first (a database without them is read the slow way), so read-only tools may open a
-- database that lacks this migration (*_newtable.sql); the next writer applies it.

-- view_grain: v_report_grain's inner sums, one row per (sweep, variant, task, method, turns,
-- complexity) with at least one result. The Results and Charts pages read these few hundred
-- rows instead of joining every result with its job. complexity_order is the smallest job id
-- that ever had a result in the group (only an order of the levels: a deleted result keeps it).
CREATE TABLE view_grain (
  sweep_id         INTEGER NOT NULL,
  variant_id       INTEGER NOT NULL,
  task             TEXT    NOT NULL,
  method           TEXT    NOT NULL,
  turns            INTEGER NOT NULL,
  complexity       TEXT    NOT NULL,
  complexity_order INTEGER NOT NULL,
  n                INTEGER NOT NULL,
  correct          INTEGER NOT NULL,
  score_sum        REAL    NOT NULL,
  code_used        INTEGER NOT NULL,
  code_ok          INTEGER NOT NULL,
  tokens_in        INTEGER NOT NULL,
  tokens_out       INTEGER NOT NULL,
  cost_usd         REAL    NOT NULL,
  wall_ms          INTEGER NOT NULL,
  calls            INTEGER NOT NULL,
  PRIMARY KEY (sweep_id, variant_id, task, method, turns, complexity)
) WITHOUT ROWID;

INSERT INTO view_grain
SELECT j.sweep_id, j.variant_id, j.task, j.method, j.turns, j.complexity, min(j.id), count(*),
       sum(r.correct), total(r.score), sum(r.code_used), sum(r.code_ok), sum(r.tokens_in),
       sum(r.tokens_out), total(r.cost_usd), sum(r.wall_ms), sum(r.n_calls)
FROM results r
JOIN jobs j ON j.id = r.job_id
GROUP BY j.sweep_id, j.variant_id, j.task, j.method, j.turns, j.complexity;

CREATE TRIGGER view_grain_add AFTER INSERT ON results
BEGIN
  INSERT INTO view_grain
  SELECT j.sweep_id, j.variant_id, j.task, j.method, j.turns, j.complexity, j.id, 1,
         new.correct, new.score, new.code_used, new.code_ok, new.tokens_in, new.tokens_out,
         new.cost_usd, new.wall_ms, new.n_calls
  FROM jobs j WHERE j.id = new.job_id
  ON CONFLICT (sweep_id, variant_id, task, method, turns, complexity) DO UPDATE SET
    complexity_order = min(complexity_order, excluded.complexity_order), n = n + 1,
    correct = correct + excluded.correct, score_sum = score_sum + excluded.score_sum,
    code_used = code_used + excluded.code_used, code_ok = code_ok + excluded.code_ok,
    tokens_in = tokens_in + excluded.tokens_in, tokens_out = tokens_out + excluded.tokens_out,
    cost_usd = cost_usd + excluded.cost_usd, wall_ms = wall_ms + excluded.wall_ms,
    calls = calls + excluded.calls;
END;

CREATE TRIGGER view_grain_remove AFTER DELETE ON results
BEGIN
  UPDATE view_grain SET
    n = n - 1, correct = correct - old.correct, score_sum = score_sum - old.score,
    code_used = code_used - old.code_used, code_ok = code_ok - old.code_ok,
    tokens_in = tokens_in - old.tokens_in, tokens_out = tokens_out - old.tokens_out,
    cost_usd = cost_usd - old.cost_usd, wall_ms = wall_ms - old.wall_ms,
    calls = calls - old.n_calls
  WHERE (sweep_id, variant_id, task, method, turns, complexity) =
        (SELECT sweep_id, variant_id, task, method, turns, complexity FROM jobs WHERE id = old.job_id);
  DELETE FROM view_grain WHERE n <= 0 AND
        (sweep_id, variant_id, task, method, turns, complexity) =
        (SELECT sweep_id, variant_id, task, method, turns, complexity FROM jobs WHERE id = old.job_id);
END;

-- A changed result: its old numbers leave the group, its new ones join it.
CREATE TRIGGER view_grain_change AFTER UPDATE OF job_id, correct, score, code_used, code_ok,
  tokens_in, tokens_out, cost_usd, wall_ms, n_calls ON results
BEGIN
  UPDATE view_grain SET
    n = n - 1, correct = correct - old.correct, score_sum = score_sum - old.score,
    code_used = code_used - old.code_used, code_ok = code_ok - old.code_ok,
    tokens_in = tokens_in - old.tokens_in, tokens_out = tokens_out - old.tokens_out,
    cost_usd = cost_usd - old.cost_usd, wall_ms = wall_ms - old.wall_ms,
    calls = calls - old.n_calls
  WHERE (sweep_id, variant_id, task, method, turns, complexity) =
        (SELECT sweep_id, variant_id, task, method, turns, complexity FROM jobs WHERE id = old.job_id);
  DELETE FROM view_grain WHERE n <= 0 AND
        (sweep_id, variant_id, task, method, turns, complexity) =
        (SELECT sweep_id, variant_id, task, method, turns, complexity FROM jobs WHERE id = old.job_id);
  INSERT INTO view_grain
  SELECT j.sweep_id, j.variant_id, j.task, j.method, j.turns, j.complexity, j.id, 1,
         new.correct, new.score, new.code_used, new.code_ok, new.tokens_in, new.tokens_out,
         new.cost_usd, new.wall_ms, new.n_calls
  FROM jobs j WHERE j.id = new.job_id
  ON CONFLICT (sweep_id, variant_id, task, method, turns, complexity) DO UPDATE SET
    complexity_order = min(complexity_order, excluded.complexity_order), n = n + 1,
    correct = correct + excluded.correct, score_sum = score_sum + excluded.score_sum,
    code_used = code_used + excluded.code_used, code_ok = code_ok + excluded.code_ok,
    tokens_in = tokens_in + excluded.tokens_in, tokens_out = tokens_out + excluded.tokens_out,
    cost_usd = cost_usd + excluded.cost_usd, wall_ms = wall_ms + excluded.wall_ms,
    calls = calls + excluded.calls;
END;

-- view_sweep_calls: what every call of every attempt of a sweep cost, and its 429s, for the
-- Sweeps page (a sum over every call otherwise).
CREATE TABLE view_sweep_calls (
  sweep_id     INTEGER PRIMARY KEY,
  calls        INTEGER NOT NULL,
  cost_usd     REAL    NOT NULL,
  rate_limited INTEGER NOT NULL
);

INSERT INTO view_sweep_calls
SELECT j.sweep_id, count(*), total(c.cost_usd), sum(c.rate_limited)
FROM calls c
JOIN jobs j ON j.id = c.job_id
GROUP BY j.sweep_id;

CREATE TRIGGER view_sweep_calls_add AFTER INSERT ON calls
BEGIN
  INSERT INTO view_sweep_calls
  SELECT j.sweep_id, 1, new.cost_usd, new.rate_limited FROM jobs j WHERE j.id = new.job_id
  ON CONFLICT (sweep_id) DO UPDATE SET calls = calls + 1,
    cost_usd = cost_usd + excluded.cost_usd, rate_limited = rate_limited + excluded.rate_limited;
END;
CREATE TRIGGER view_sweep_calls_remove AFTER DELETE ON calls
BEGIN
  UPDATE view_sweep_calls SET calls = calls - 1, cost_usd = cost_usd - old.cost_usd,
    rate_limited = rate_limited - old.rate_limited
  WHERE sweep_id = (SELECT sweep_id FROM jobs WHERE id = old.job_id);
END;
CREATE TRIGGER view_sweep_calls_change AFTER UPDATE OF job_id, cost_usd, rate_limited ON calls
BEGIN
  UPDATE view_sweep_calls SET calls = calls - 1, cost_usd = cost_usd - old.cost_usd,
    rate_limited = rate_limited - old.rate_limited
  WHERE sweep_id = (SELECT sweep_id FROM jobs WHERE id = old.job_id);
  INSERT INTO view_sweep_calls
  SELECT j.sweep_id, 1, new.cost_usd, new.rate_limited FROM jobs j WHERE j.id = new.job_id
  ON CONFLICT (sweep_id) DO UPDATE SET calls = calls + 1,
    cost_usd = cost_usd + excluded.cost_usd, rate_limited = rate_limited + excluded.rate_limited;
END;

-- reply_search and answer_search: full-text indexes (SQLite FTS5, unicode61 words) of every
-- reply (calls.response_json, by call id) and every final answer (results.final_answer, by job
-- id). External content: the text stays in calls and results and the index holds only words, so
-- the triggers give FTS5 the old text of a changed or deleted row, as its documentation asks.
CREATE VIRTUAL TABLE reply_search USING fts5(response_json, content = 'calls', content_rowid = 'id');
CREATE VIRTUAL TABLE answer_search USING fts5(final_answer, content = 'results',
                                              content_rowid = 'job_id');
INSERT INTO reply_search (reply_search) VALUES ('rebuild');
INSERT INTO answer_search (answer_search) VALUES ('rebuild');

CREATE TRIGGER reply_search_add AFTER INSERT ON calls
BEGIN
  INSERT INTO reply_search (rowid, response_json) VALUES (new.id, new.response_json);
END;
CREATE TRIGGER reply_search_remove AFTER DELETE ON calls
BEGIN
  INSERT INTO reply_search (reply_search, rowid, response_json)
  VALUES ('delete', old.id, old.response_json);
END;
CREATE TRIGGER reply_search_change AFTER UPDATE OF id, response_json ON calls
BEGIN
  INSERT INTO reply_search (reply_search, rowid, response_json)
  VALUES ('delete', old.id, old.response_json);
  INSERT INTO reply_search (rowid, response_json) VALUES (new.id, new.response_json);
END;

CREATE TRIGGER answer_search_add AFTER INSERT ON results
BEGIN
  INSERT INTO answer_search (rowid, final_answer) VALUES (new.job_id, new.final_answer);
END;
CREATE TRIGGER answer_search_remove AFTER DELETE ON results
BEGIN
  INSERT INTO answer_search (answer_search, rowid, final_answer)
  VALUES ('delete', old.job_id, old.final_answer);
END;
CREATE TRIGGER answer_search_change AFTER UPDATE OF job_id, final_answer ON results
BEGIN
  INSERT INTO answer_search (answer_search, rowid, final_answer)
  VALUES ('delete', old.job_id, old.final_answer);
  INSERT INTO answer_search (rowid, final_answer) VALUES (new.job_id, new.final_answer);
END;
