-- 0020_view_outcomes_newtable: the outcomes of every sample side by side, for `codesweep view`'s
-- Compare page (docs/view.md, docs/schema.md). Compare pairs two cells of one sample (same sweep,
-- task, turns, complexity and sample; two methods on one model setting, or two settings with one
-- method); reading both results of every pair took a seek and two result reads per pair (66,000
-- pairs at a million cells). Here each sample is one short row whose string holds, at the
-- position of each (variant, method) of its sweep, '1' (a correct result), '0' (an incorrect
-- one) or ' ' (no result), so the counts of a comparison are one walk of a sweep's samples and
-- its page stops after a page of disagreements. Kept by triggers in the transaction that writes,
-- changes or deletes a result, so it is exact at every commit. Only the viewer reads it and looks
-- for it first, so read-only tools may open a database without it (*_newtable.sql).

-- view_outcome_slots: the position (1-based) of each (sweep, variant, method) in the strings of
-- its sweep. Numbered in order of first result; a position is never reused.
CREATE TABLE view_outcome_slots (
  sweep_id   INTEGER NOT NULL,
  variant_id INTEGER NOT NULL,
  method     TEXT    NOT NULL,
  slot       INTEGER NOT NULL,
  PRIMARY KEY (sweep_id, variant_id, method)
) WITHOUT ROWID;

-- view_outcomes: one row per sample with at least one result. outcomes is as long as the
-- highest position with a result (a shorter string reads as ' ' beyond its end).
CREATE TABLE view_outcomes (
  sweep_id   INTEGER NOT NULL,
  task       TEXT    NOT NULL,
  turns      INTEGER NOT NULL,
  complexity TEXT    NOT NULL,
  sample     INTEGER NOT NULL,
  outcomes   TEXT    NOT NULL,
  PRIMARY KEY (sweep_id, task, turns, complexity, sample)
) WITHOUT ROWID;

INSERT INTO view_outcome_slots
SELECT sweep_id, variant_id, method,
       row_number() OVER (PARTITION BY sweep_id ORDER BY variant_id, method)
FROM (SELECT DISTINCT j.sweep_id, j.variant_id, j.method
      FROM results r JOIN jobs j ON j.id = r.job_id);

-- Every statement below sets one position of one sample's string: the row inserted is the string
-- of that position alone (spaces, then the character), and on conflict that character replaces
-- the one at its position in the kept string (which is first padded to the position).
INSERT INTO view_outcomes (sweep_id, task, turns, complexity, sample, outcomes)
SELECT j.sweep_id, j.task, j.turns, j.complexity, j.sample,
       printf('%*s', s.slot, iif(r.correct, '1', '0'))
FROM results r
JOIN jobs j ON j.id = r.job_id
JOIN view_outcome_slots s ON s.sweep_id = j.sweep_id AND s.variant_id = j.variant_id
                         AND s.method = j.method
WHERE true
ON CONFLICT (sweep_id, task, turns, complexity, sample) DO UPDATE SET
  outcomes = printf('%-*s', length(excluded.outcomes) - 1,
                    substr(outcomes, 1, length(excluded.outcomes) - 1)) ||
             substr(excluded.outcomes, -1) || substr(outcomes, length(excluded.outcomes) + 1);

CREATE TRIGGER view_outcomes_add AFTER INSERT ON results
BEGIN
  INSERT INTO view_outcome_slots
  SELECT j.sweep_id, j.variant_id, j.method,
         (SELECT count(*) + 1 FROM view_outcome_slots s WHERE s.sweep_id = j.sweep_id)
  FROM jobs j
  WHERE j.id = new.job_id AND NOT EXISTS (SELECT 1 FROM view_outcome_slots s
                                          WHERE s.sweep_id = j.sweep_id
                                            AND s.variant_id = j.variant_id
                                            AND s.method = j.method);
  INSERT INTO view_outcomes (sweep_id, task, turns, complexity, sample, outcomes)
  SELECT j.sweep_id, j.task, j.turns, j.complexity, j.sample,
         printf('%*s', s.slot, iif(new.correct, '1', '0'))
  FROM jobs j
  JOIN view_outcome_slots s ON s.sweep_id = j.sweep_id AND s.variant_id = j.variant_id
                           AND s.method = j.method
  WHERE j.id = new.job_id
  ON CONFLICT (sweep_id, task, turns, complexity, sample) DO UPDATE SET
    outcomes = printf('%-*s', length(excluded.outcomes) - 1,
                      substr(outcomes, 1, length(excluded.outcomes) - 1)) ||
               substr(excluded.outcomes, -1) || substr(outcomes, length(excluded.outcomes) + 1);
END;

-- A deleted result: its position becomes ' ', and a sample with no result left goes.
CREATE TRIGGER view_outcomes_remove AFTER DELETE ON results
BEGIN
  INSERT INTO view_outcomes (sweep_id, task, turns, complexity, sample, outcomes)
  SELECT j.sweep_id, j.task, j.turns, j.complexity, j.sample, printf('%*s', s.slot, ' ')
  FROM jobs j
  JOIN view_outcome_slots s ON s.sweep_id = j.sweep_id AND s.variant_id = j.variant_id
                           AND s.method = j.method
  WHERE j.id = old.job_id
  ON CONFLICT (sweep_id, task, turns, complexity, sample) DO UPDATE SET
    outcomes = printf('%-*s', length(excluded.outcomes) - 1,
                      substr(outcomes, 1, length(excluded.outcomes) - 1)) ||
               substr(excluded.outcomes, -1) || substr(outcomes, length(excluded.outcomes) + 1);
  DELETE FROM view_outcomes WHERE trim(outcomes) = '' AND
        (sweep_id, task, turns, complexity, sample) =
        (SELECT sweep_id, task, turns, complexity, sample FROM jobs WHERE id = old.job_id);
END;

-- A re-judged (or moved) result: the old position is cleared, then the new one set.
CREATE TRIGGER view_outcomes_change AFTER UPDATE OF job_id, correct ON results
BEGIN
  INSERT INTO view_outcomes (sweep_id, task, turns, complexity, sample, outcomes)
  SELECT j.sweep_id, j.task, j.turns, j.complexity, j.sample, printf('%*s', s.slot, ' ')
  FROM jobs j
  JOIN view_outcome_slots s ON s.sweep_id = j.sweep_id AND s.variant_id = j.variant_id
                           AND s.method = j.method
  WHERE j.id = old.job_id
  ON CONFLICT (sweep_id, task, turns, complexity, sample) DO UPDATE SET
    outcomes = printf('%-*s', length(excluded.outcomes) - 1,
                      substr(outcomes, 1, length(excluded.outcomes) - 1)) ||
               substr(excluded.outcomes, -1) || substr(outcomes, length(excluded.outcomes) + 1);
  INSERT INTO view_outcome_slots
  SELECT j.sweep_id, j.variant_id, j.method,
         (SELECT count(*) + 1 FROM view_outcome_slots s WHERE s.sweep_id = j.sweep_id)
  FROM jobs j
  WHERE j.id = new.job_id AND NOT EXISTS (SELECT 1 FROM view_outcome_slots s
                                          WHERE s.sweep_id = j.sweep_id
                                            AND s.variant_id = j.variant_id
                                            AND s.method = j.method);
  INSERT INTO view_outcomes (sweep_id, task, turns, complexity, sample, outcomes)
  SELECT j.sweep_id, j.task, j.turns, j.complexity, j.sample,
         printf('%*s', s.slot, iif(new.correct, '1', '0'))
  FROM jobs j
  JOIN view_outcome_slots s ON s.sweep_id = j.sweep_id AND s.variant_id = j.variant_id
                           AND s.method = j.method
  WHERE j.id = new.job_id
  ON CONFLICT (sweep_id, task, turns, complexity, sample) DO UPDATE SET
    outcomes = printf('%-*s', length(excluded.outcomes) - 1,
                      substr(outcomes, 1, length(excluded.outcomes) - 1)) ||
               substr(excluded.outcomes, -1) || substr(outcomes, length(excluded.outcomes) + 1);
  DELETE FROM view_outcomes WHERE trim(outcomes) = '' AND
        (sweep_id, task, turns, complexity, sample) =
        (SELECT sweep_id, task, turns, complexity, sample FROM jobs WHERE id = old.job_id);
END;
