-- The change counter per tenant is PostgreSQL's (issue 21); SQLite is single-tenant and keeps
-- 0018's one row. Nothing to change.
SELECT 1;
