-- Tenant-first look-up indexes are PostgreSQL's (issue 21): SQLite is single-tenant and keeps
-- its indexes. Nothing to change.
SELECT 1;
