-- 0020_view_states_newtable: view_states (0019) counts a leased job among the pending ones, so
-- that a lease, or a requeue, moves no row and costs the coordinator nothing: of a job's moves
-- only those to done, failed, dead or parked write (one decrement, one probe and one upsert),
-- not the lease before them (BENCHMARKS.md, "After migration 0020"). The viewer reads the leased
-- jobs (a few hundred in flight) from the partial index jobs_leased and takes them from the
-- pending count (docs/view.md, docs/schema.md).
DROP TRIGGER view_states_add;
DROP TRIGGER view_states_remove;
DROP TRIGGER view_states_change;

INSERT INTO view_states
SELECT sweep_id, variant_id, task, method, turns, complexity, 'pending', n
FROM view_states WHERE state = 'leased'
ON CONFLICT (sweep_id, variant_id, task, method, turns, complexity, state) DO UPDATE SET
  n = n + excluded.n;
DELETE FROM view_states WHERE state = 'leased';

CREATE TRIGGER view_states_add AFTER INSERT ON jobs
BEGIN
  INSERT INTO view_states
  VALUES (new.sweep_id, new.variant_id, new.task, new.method, new.turns, new.complexity,
          iif(new.state = 'leased', 'pending', new.state), 1)
  ON CONFLICT (sweep_id, variant_id, task, method, turns, complexity, state) DO UPDATE SET
    n = n + 1;
END;

CREATE TRIGGER view_states_remove AFTER DELETE ON jobs
BEGIN
  UPDATE view_states SET n = n - 1
  WHERE (sweep_id, variant_id, task, method, turns, complexity, state) =
        (old.sweep_id, old.variant_id, old.task, old.method, old.turns, old.complexity,
         iif(old.state = 'leased', 'pending', old.state));
  DELETE FROM view_states WHERE n <= 0 AND
        (sweep_id, variant_id, task, method, turns, complexity, state) =
        (old.sweep_id, old.variant_id, old.task, old.method, old.turns, old.complexity,
         iif(old.state = 'leased', 'pending', old.state));
END;

-- Only a job that moves from one row to another costs writes: a lease (pending to leased) or
-- a requeue (leased to pending) moves none; neither do the coordinator's other updates of a job
-- (lease deadlines, errors, tokens).
CREATE TRIGGER view_states_change AFTER UPDATE OF sweep_id, variant_id, task, method, turns,
  complexity, state ON jobs
WHEN (old.sweep_id, old.variant_id, old.task, old.method, old.turns, old.complexity,
      iif(old.state = 'leased', 'pending', old.state))
  IS NOT (new.sweep_id, new.variant_id, new.task, new.method, new.turns, new.complexity,
          iif(new.state = 'leased', 'pending', new.state))
BEGIN
  UPDATE view_states SET n = n - 1
  WHERE (sweep_id, variant_id, task, method, turns, complexity, state) =
        (old.sweep_id, old.variant_id, old.task, old.method, old.turns, old.complexity,
         iif(old.state = 'leased', 'pending', old.state));
  DELETE FROM view_states WHERE n <= 0 AND
        (sweep_id, variant_id, task, method, turns, complexity, state) =
        (old.sweep_id, old.variant_id, old.task, old.method, old.turns, old.complexity,
         iif(old.state = 'leased', 'pending', old.state));
  INSERT INTO view_states
  VALUES (new.sweep_id, new.variant_id, new.task, new.method, new.turns, new.complexity,
          iif(new.state = 'leased', 'pending', new.state), 1)
  ON CONFLICT (sweep_id, variant_id, task, method, turns, complexity, state) DO UPDATE SET
    n = n + 1;
END;
