-- 0015_method_templates_newtable: the definitions of declared methods ([method_templates.NAME]
-- in a sweep file, docs/methods.md), content-addressed: one row per distinct definition, shared
-- by every sweep that declares it. A job of a declared method points at its row
-- (jobs.method_template_id, 0015_jobs_method_template_column.sql), so a pending cell of a
-- template edited since still runs the text its cell key was made from. Only adds a table, so
-- read-only tools may open a database without it (*_newtable.sql).
CREATE TABLE method_templates (
  id              INTEGER PRIMARY KEY,
  content_hash    TEXT    NOT NULL UNIQUE,  -- hex SHA-256 of definition_json
  name            TEXT    NOT NULL,         -- the method's name in `methods = [...]`
  definition_json TEXT    NOT NULL,         -- canonical JSON, sent to workers in JobSpec
  created_ms      INTEGER NOT NULL
);
