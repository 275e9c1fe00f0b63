-- Reads 31-batch.sql 4 times: 4 batches of stage 3 (see 30-features.sql).
.read sql/stages/31-batch.sql
.read sql/stages/31-batch.sql
.read sql/stages/31-batch.sql
.read sql/stages/31-batch.sql
