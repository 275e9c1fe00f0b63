-- Prologue of the sharded stages (read first by sql/plan.sql, map.sql, reduce.sql, project.sql
-- and publish.sql, from the repository root): the former parameter names, then the guard.
--
-- $src: the former name of $source (the source glob), accepted with a warning on stderr.
.parameter init
.output stderr
SELECT 'warning: parameter $src is deprecated: set $source (the same source glob)'
  FROM temp.sqlite_parameters WHERE key = '$src';
.output stdout
INSERT OR IGNORE INTO temp.sqlite_parameters(key, value)
  SELECT '$source', value FROM temp.sqlite_parameters WHERE key = '$src';
--
-- The guard.  A stage first prints its problems ("<stage>: problem: ..."),
-- then inserts whether it may go on:
--   INSERT INTO guard SELECT <1 when everything is consistent, else 0>;
-- inserting 0 fails the row's CHECK constraint, which aborts the script (the shell runs with
-- .bail on) before anything is written: the guard idiom of every script of sql/.
CREATE TEMP TABLE guard(
  ok INTEGER CONSTRAINT "refusing to go on: inputs missing or inconsistent (problems listed above); nothing written"
     CHECK (ok IS NOT 0));
