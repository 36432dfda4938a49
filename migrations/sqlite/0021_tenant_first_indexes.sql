-- Tenant-first covering indexes are PostgreSQL's (issue 21): SQLite is single-tenant and keeps
-- 0003's covering index. Nothing to change.
SELECT 1;
