-- 0019_view_states_newtable: how many cells of each (sweep, variant, task, method, turns,
-- complexity) are in each state, kept by triggers in the transaction that inserts, changes or
-- deletes a job, so it is exact at every commit (docs/view.md, docs/schema.md). `codesweep view`
-- reads these few thousand rows for the Sweeps page's counts, the Cells page's filter lists and
-- exact counts, and the model settings, instead of walking a million jobs. Only the viewer reads
-- it and looks for it first, so read-only tools may open a database without it (*_newtable.sql).
CREATE TABLE view_states (
  sweep_id   INTEGER NOT NULL,
  variant_id INTEGER NOT NULL,
  task       TEXT    NOT NULL,
  method     TEXT    NOT NULL,
  turns      INTEGER NOT NULL,
  complexity TEXT    NOT NULL,
  state      TEXT    NOT NULL,
  n          INTEGER NOT NULL,
  PRIMARY KEY (sweep_id, variant_id, task, method, turns, complexity, state)
) WITHOUT ROWID;

INSERT INTO view_states
SELECT sweep_id, variant_id, task, method, turns, complexity, state, count(*)
FROM jobs
GROUP BY sweep_id, variant_id, task, method, turns, complexity, state;

CREATE TRIGGER view_states_add AFTER INSERT ON jobs
BEGIN
  INSERT INTO view_states
  VALUES (new.sweep_id, new.variant_id, new.task, new.method, new.turns, new.complexity,
          new.state, 1)
  ON CONFLICT (sweep_id, variant_id, task, method, turns, complexity, state) DO UPDATE SET
    n = n + 1;
END;

CREATE TRIGGER view_states_remove AFTER DELETE ON jobs
BEGIN
  UPDATE view_states SET n = n - 1
  WHERE (sweep_id, variant_id, task, method, turns, complexity, state) =
        (old.sweep_id, old.variant_id, old.task, old.method, old.turns, old.complexity, old.state);
  DELETE FROM view_states WHERE n <= 0 AND
        (sweep_id, variant_id, task, method, turns, complexity, state) =
        (old.sweep_id, old.variant_id, old.task, old.method, old.turns, old.complexity, old.state);
END;

-- Only a job that moves from one row to another (a new state, mostly) costs two writes; the
-- coordinator's other updates of a job (lease deadlines, errors, tokens) pass by.
CREATE TRIGGER view_states_change AFTER UPDATE OF sweep_id, variant_id, task, method, turns,
  complexity, state ON jobs
WHEN (old.sweep_id, old.variant_id, old.task, old.method, old.turns, old.complexity, old.state)
  IS NOT (new.sweep_id, new.variant_id, new.task, new.method, new.turns, new.complexity, new.state)
BEGIN
  UPDATE view_states SET n = n - 1
  WHERE (sweep_id, variant_id, task, method, turns, complexity, state) =
        (old.sweep_id, old.variant_id, old.task, old.method, old.turns, old.complexity, old.state);
  DELETE FROM view_states WHERE n <= 0 AND
        (sweep_id, variant_id, task, method, turns, complexity, state) =
        (old.sweep_id, old.variant_id, old.task, old.method, old.turns, old.complexity, old.state);
  INSERT INTO view_states
  VALUES (new.sweep_id, new.variant_id, new.task, new.method, new.turns, new.complexity,
          new.state, 1)
  ON CONFLICT (sweep_id, variant_id, task, method, turns, complexity, state) DO UPDATE SET
    n = n + 1;
END;
