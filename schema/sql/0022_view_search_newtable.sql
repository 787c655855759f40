-- 0022_view_search_newtable: the full-text indexes of 0013 (reply_search, answer_search) are
-- filled once per commit instead of once per row (docs/schema.md, "Kept for the viewer"). The
-- SQLite of Debian 12 (3.40) writes FTS5's pending words to disk at every savepoint, and the
-- store makes every result one savepoint, so a per-row trigger wrote two index segments (and
-- their merges) per result: most of what the viewer's tables cost the coordinator
-- (BENCHMARKS.md, "Web viewer"). Now a result or a call only marks what is not indexed yet, and
-- the writer's commit (Store::Commit) indexes all of it in one statement per index, in the same
-- transaction: every commit of the coordinator is indexed when readers see it. Rows written by
-- another tool wait for the next commit of the store; `codesweep view` matches them as
-- substrings meanwhile (docs/view.md). Only the viewer reads these tables and looks for them
-- first, so read-only tools may open a database without this migration (*_newtable.sql).

-- view_search_mark: one row; every call with an id at or below reply_indexed_to is in
-- reply_search, none above it is (calls get increasing ids, so that is the whole backlog).
CREATE TABLE view_search_mark (
  id               INTEGER PRIMARY KEY CHECK (id = 1),
  reply_indexed_to INTEGER NOT NULL
);
INSERT INTO view_search_mark VALUES (1, (SELECT ifnull(max(id), 0) FROM calls));

-- view_answer_backlog: the results (by job id) whose final answer is not in answer_search yet
-- (results come in any job order, so they are listed).
CREATE TABLE view_answer_backlog (job_id INTEGER PRIMARY KEY);

DROP TRIGGER reply_search_add;
DROP TRIGGER reply_search_remove;
DROP TRIGGER reply_search_change;
DROP TRIGGER answer_search_add;
DROP TRIGGER answer_search_remove;
DROP TRIGGER answer_search_change;

-- A call inserted needs nothing: its id is above the mark. A deleted or changed call leaves the
-- index only if it is in it (a 'delete' of a row the index lacks would corrupt it); a changed
-- call at or below the mark joins again. SQLite gives a new call the highest id + 1, so when
-- the highest calls are deleted the mark comes down to the highest call left.
CREATE TRIGGER reply_search_remove AFTER DELETE ON calls
BEGIN
  INSERT INTO reply_search (reply_search, rowid, response_json)
  SELECT 'delete', old.id, old.response_json FROM view_search_mark
  WHERE old.id <= reply_indexed_to;
  UPDATE view_search_mark SET reply_indexed_to = (SELECT ifnull(max(id), 0) FROM calls)
  WHERE reply_indexed_to > (SELECT ifnull(max(id), 0) FROM calls);
END;
CREATE TRIGGER reply_search_change AFTER UPDATE OF id, response_json ON calls
BEGIN
  INSERT INTO reply_search (reply_search, rowid, response_json)
  SELECT 'delete', old.id, old.response_json FROM view_search_mark
  WHERE old.id <= reply_indexed_to;
  INSERT INTO reply_search (rowid, response_json)
  SELECT new.id, new.response_json FROM view_search_mark WHERE new.id <= reply_indexed_to;
  UPDATE view_search_mark SET reply_indexed_to = (SELECT ifnull(max(id), 0) FROM calls)
  WHERE reply_indexed_to > (SELECT ifnull(max(id), 0) FROM calls);
END;

-- A result inserted is listed; a deleted or changed one leaves the index if it was indexed (not
-- listed), and a changed one is listed again under its (new) job id.
CREATE TRIGGER answer_search_add AFTER INSERT ON results
BEGIN
  INSERT OR IGNORE INTO view_answer_backlog VALUES (new.job_id);
END;
CREATE TRIGGER answer_search_remove AFTER DELETE ON results
BEGIN
  INSERT INTO answer_search (answer_search, rowid, final_answer)
  SELECT 'delete', old.job_id, old.final_answer
  WHERE NOT EXISTS (SELECT 1 FROM view_answer_backlog WHERE job_id = old.job_id);
  DELETE FROM view_answer_backlog WHERE job_id = old.job_id;
END;
CREATE TRIGGER answer_search_change AFTER UPDATE OF job_id, final_answer ON results
BEGIN
  INSERT INTO answer_search (answer_search, rowid, final_answer)
  SELECT 'delete', old.job_id, old.final_answer
  WHERE NOT EXISTS (SELECT 1 FROM view_answer_backlog WHERE job_id = old.job_id);
  DELETE FROM view_answer_backlog WHERE job_id = old.job_id;
  INSERT OR IGNORE INTO view_answer_backlog VALUES (new.job_id);
END;
