-- A counter of changes to what a teleworker's page shows (issue 20): every write to orders,
-- reports, escalations, employees, their e-mail addresses or deputies bumps it, in the writer's
-- own transaction, whichever process writes (the daemon, the CLI, the web). The web keeps a
-- person's page data while the counter has not moved (src/web/my_cache.rs says why a counter
-- and not a sequence). Once per statement, not per row: an ingest batch of a thousand reports
-- bumps it once. The row's lock is held to the writer's commit, so writers of these tables in
-- several instances take turns from their first such statement to their commit.
CREATE TABLE changes (
    topic TEXT PRIMARY KEY,
    n BIGINT NOT NULL
);
INSERT INTO changes (topic, n) VALUES ('register', 0);

CREATE FUNCTION register_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE changes SET n = n + 1 WHERE topic = 'register';
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
