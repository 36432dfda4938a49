-- Every key carries the tenant (issue 21, docs/scaling.md "What the catalog test found"): the
-- primary keys of generated IDs and token hashes that 0017 left alone become (tenant, …), and
-- an application's users point at their application by (tenant, id). On one PostgreSQL nothing
-- changes for a query (the row-level security policy adds `tenant = …`, which the new keys
-- serve); a distributed PostgreSQL (Citus) refuses a distributed table whose keys lack the
-- distribution column. tests/scaling.rs reads the catalog for it.
ALTER TABLE application_users DROP CONSTRAINT application_users_application_id_fkey;
ALTER TABLE application_users DROP CONSTRAINT application_users_pkey;
ALTER TABLE application_users ADD PRIMARY KEY (tenant, application_id, employee_id);
DO $$
DECLARE
    t TEXT;
BEGIN
    FOREACH t IN ARRAY ARRAY[
        'applications', 'id_assignments', 'orders', 'reports', 'outbox', 'escalations',
        'digests', 'login_failures', 'web_audit', 'audit_log', 'deputies'
    ] LOOP
        EXECUTE format('ALTER TABLE %I DROP CONSTRAINT %I', t, t || '_pkey');
        EXECUTE format('ALTER TABLE %I ADD PRIMARY KEY (tenant, id)', t);
    END LOOP;
    FOREACH t IN ARRAY ARRAY['sessions', 'api_tokens'] LOOP
        EXECUTE format('ALTER TABLE %I DROP CONSTRAINT %I', t, t || '_pkey');
        EXECUTE format('ALTER TABLE %I ADD PRIMARY KEY (tenant, token_hash)', t);
    END LOOP;
END
$$;
ALTER TABLE application_users ADD FOREIGN KEY (tenant, application_id)
    REFERENCES applications (tenant, id) ON UPDATE CASCADE;
