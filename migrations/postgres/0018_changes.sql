-- A counter of changes to what a teleworker's page shows (issue 20): every transaction that
-- writes orders, reports, escalations, employees, their e-mail addresses or deputies bumps it,
-- in that transaction, whichever process writes (the daemon, the CLI, the web). The web keeps
-- a person's page data while the counter has not moved (src/web/my_cache.rs says why a counter
-- and not a sequence).
--
-- Once per transaction, not per row or statement: an import of 56,000 orders in one
-- transaction that updated this row 56,000 times would leave 56,000 versions of it, which
-- each later update walks (the audit trail's head row did that; docs/benchmarks.md). A
-- transaction-local setting remembers the bump; it is undone with a rolled-back savepoint, so
-- the next statement bumps again. The row's lock is held to the writer's commit, so writers of
-- these tables in several instances take turns from their first such statement to commit.
CREATE TABLE changes (
    id BIGINT PRIMARY KEY CHECK (id = 1),
    n BIGINT NOT NULL
);
INSERT INTO changes (id, n) VALUES (1, 0);

CREATE FUNCTION register_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('zaitaku.register_changed', true) IS DISTINCT FROM 'yes' THEN
        UPDATE changes SET n = n + 1 WHERE id = 1;
        PERFORM set_config('zaitaku.register_changed', 'yes', true);
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER orders_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON orders
    FOR EACH STATEMENT EXECUTE FUNCTION register_changed();
CREATE TRIGGER reports_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON reports
    FOR EACH STATEMENT EXECUTE FUNCTION register_changed();
CREATE TRIGGER escalations_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON escalations
    FOR EACH STATEMENT EXECUTE FUNCTION register_changed();
CREATE TRIGGER employees_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON employees
    FOR EACH STATEMENT EXECUTE FUNCTION register_changed();
CREATE TRIGGER employee_emails_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON employee_emails
    FOR EACH STATEMENT EXECUTE FUNCTION register_changed();
CREATE TRIGGER deputies_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON deputies
    FOR EACH STATEMENT EXECUTE FUNCTION register_changed();

-- A person's unmatched reports of a day (no order, or not counted for one), found by sender
-- without reading the day's thousands of matched reports; only those rows are in it.
CREATE INDEX reports_unmatched ON reports(sender, day) WHERE reason NOT IN ('matched', 'resolution');
