-- Reads 32-batches.sql 4 times: 16 batches of stage 3 (see 30-features.sql).
.read sql/stages/32-batches.sql
.read sql/stages/32-batches.sql
.read sql/stages/32-batches.sql
.read sql/stages/32-batches.sql
