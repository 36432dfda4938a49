-- SQLite's answer_counts became one B-tree (issue 22). PostgreSQL's already has one key,
-- (tenant, address, day), since 0017, beside its heap. Nothing to change.
SELECT 1;
