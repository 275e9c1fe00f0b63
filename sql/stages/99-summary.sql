-- ---------------------------------------------------------------------------
-- 99. Summary: the run is finished
-- ---------------------------------------------------------------------------
UPDATE runs SET finished = datetime('now') WHERE id = (SELECT max(id) FROM runs);
.print '== done'
