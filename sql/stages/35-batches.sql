-- Reads 34-batches.sql 4 times: 256 batches of stage 3 (see 30-features.sql).
.read sql/stages/34-batches.sql
.read sql/stages/34-batches.sql
.read sql/stages/34-batches.sql
.read sql/stages/34-batches.sql
