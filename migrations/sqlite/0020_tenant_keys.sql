-- Keys carrying the tenant are PostgreSQL's (issue 21): SQLite is single-tenant. Nothing to
-- change.
SELECT 1;
