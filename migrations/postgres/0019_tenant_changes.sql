-- The change counter of 0018 per tenant (issue 21): 0018 came after 0017 made every table
-- the tenant's, and its one row was shared by all the municipalities of a database, so one
-- city's write dropped every city's kept pages and, its row lock being held to commit, writers
-- of different cities took turns. Each tenant now bumps a row of its own, made on its first
-- write; a tenant without one reads 0 (store::web::session_employee).
ALTER TABLE changes ADD COLUMN tenant TEXT NOT NULL DEFAULT '';
ALTER TABLE changes ALTER COLUMN tenant SET DEFAULT current_setting('zaitaku.tenant');
ALTER TABLE changes DROP CONSTRAINT changes_pkey;
ALTER TABLE changes ADD PRIMARY KEY (tenant, id);
ALTER TABLE changes ENABLE ROW LEVEL SECURITY;
ALTER TABLE changes FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON changes
    USING (tenant = current_setting('zaitaku.tenant', true))
    WITH CHECK (tenant = current_setting('zaitaku.tenant', true));

CREATE OR REPLACE FUNCTION register_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('zaitaku.register_changed', true) IS DISTINCT FROM 'yes' THEN
        INSERT INTO changes (id, n) VALUES (1, 1)
            ON CONFLICT (tenant, id) DO UPDATE SET n = changes.n + 1;
        PERFORM set_config('zaitaku.register_changed', 'yes', true);
    END IF;
    RETURN NULL;
END;
$$;
