-- The loop breaker's counts in one B-tree (issue 22). 0011 made a rowid table with its primary
-- key (address, day) as a second tree, and 0017 added a third, unique on (tenant, address,
-- day), for the ON CONFLICT target the two backends share. Each answer the intake queues
-- updates its address's count in the batch's transaction, so every answer wrote three trees.
-- A table without rowids keyed by (address, day, tenant) is all three: the look-ups by
-- address and day use its key, and SQLite takes it as the target (tenant, address, day), the
-- columns in any order. A SQLite database is one city (tenant always ''), so the key accepts
-- and refuses what the two keys did.
CREATE TABLE answer_counts_keyed (
    address TEXT NOT NULL,
    day TEXT NOT NULL,
    answers BIGINT NOT NULL,
    tenant TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (address, day, tenant)
) WITHOUT ROWID;
INSERT INTO answer_counts_keyed (address, day, answers, tenant)
    SELECT address, day, answers, tenant FROM answer_counts;
DROP TABLE answer_counts;
ALTER TABLE answer_counts_keyed RENAME TO answer_counts;
