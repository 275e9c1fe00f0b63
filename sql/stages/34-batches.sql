-- Reads 33-batches.sql 4 times: 64 batches of stage 3 (see 30-features.sql).
.read sql/stages/33-batches.sql
.read sql/stages/33-batches.sql
.read sql/stages/33-batches.sql
.read sql/stages/33-batches.sql
