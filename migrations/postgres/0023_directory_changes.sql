-- A counter of changes to a municipality's staff directory (employees, their e-mail addresses,
-- their chat identities), per tenant (issue 21). The ingest keeps the directory it matches
-- senders by while this counter stands still, instead of reading every employee again for
-- each IMAP batch: in a morning rush a batch is one mail, and a city has thousands of staff.
-- Bumped once per writing transaction (a transaction-local setting, as 0018's counter), in
-- that transaction, whichever process writes; a tenant without a row reads 0.
CREATE TABLE directory_changes (
    tenant TEXT NOT NULL DEFAULT current_setting('zaitaku.tenant') PRIMARY KEY,
    n BIGINT NOT NULL
);
ALTER TABLE directory_changes ENABLE ROW LEVEL SECURITY;
ALTER TABLE directory_changes FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON directory_changes
    USING (tenant = current_setting('zaitaku.tenant', true))
    WITH CHECK (tenant = current_setting('zaitaku.tenant', true));

CREATE FUNCTION directory_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('zaitaku.directory_changed', true) IS DISTINCT FROM 'yes' THEN
        INSERT INTO directory_changes (n) VALUES (1)
            ON CONFLICT (tenant) DO UPDATE SET n = directory_changes.n + 1;
        PERFORM set_config('zaitaku.directory_changed', 'yes', true);
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER employees_directory_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON employees
    FOR EACH STATEMENT EXECUTE FUNCTION directory_changed();
CREATE TRIGGER employee_emails_directory_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON employee_emails
    FOR EACH STATEMENT EXECUTE FUNCTION directory_changed();
CREATE TRIGGER chat_identities_directory_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON chat_identities
    FOR EACH STATEMENT EXECUTE FUNCTION directory_changed();
