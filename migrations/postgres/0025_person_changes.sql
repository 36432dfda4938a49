-- 自分の在宅勤務's change counter, per person and per tenant (issue 20). 0018's one counter
-- moved with any write of anyone's, so at 08:30, with a city's mail arriving every few
-- seconds, no kept page outlived the next mail and every load was a first load. A
-- teleworker's page now stays good while two rows stand still: their own, bumped by writes of
-- their orders, their reports and the escalation steps of their orders; and everyone's
-- (employee_id ''), bumped by writes of what a page shows of others or matches mail by
-- (employees, their addresses, deputies). The web reads both with the session
-- (store::web::session_employee); a missing row reads 0.
--
-- 0018's counter stays, bumped as before: its row lock, taken by a writing transaction's
-- first statement on these tables (its triggers' names sort before these, and PostgreSQL
-- fires a table's triggers in name order), makes the writers of one city take turns, so two
-- transactions never wait for each other's person rows in opposite orders. Inside one
-- statement the rows are taken in employee_id order all the same.
CREATE TABLE person_changes (
    tenant TEXT NOT NULL DEFAULT current_setting('zaitaku.tenant'),
    employee_id TEXT NOT NULL,
    n BIGINT NOT NULL,
    -- The tenant first, as every index of a tenant's table (tests/scaling.rs); the reads name
    -- the tenant themselves, so a role that bypasses row-level security finds rows by it too.
    PRIMARY KEY (tenant, employee_id)
);
ALTER TABLE person_changes ENABLE ROW LEVEL SECURITY;
ALTER TABLE person_changes FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON person_changes
    USING (tenant = current_setting('zaitaku.tenant', true))
    WITH CHECK (tenant = current_setting('zaitaku.tenant', true));

-- Once per statement, from its transition tables: the people whose rows it wrote.
CREATE FUNCTION person_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_TABLE_NAME = 'escalations' THEN
        IF TG_OP = 'INSERT' THEN
            INSERT INTO person_changes (employee_id, n)
                SELECT DISTINCT o.employee_id, 1 FROM new_rows x JOIN orders o ON o.id = x.order_id
                ORDER BY 1
                ON CONFLICT (tenant, employee_id) DO UPDATE SET n = person_changes.n + 1;
        ELSIF TG_OP = 'UPDATE' THEN
            INSERT INTO person_changes (employee_id, n)
                SELECT o.employee_id, 1 FROM orders o
                WHERE o.id IN (SELECT order_id FROM new_rows UNION SELECT order_id FROM old_rows)
                GROUP BY o.employee_id ORDER BY 1
                ON CONFLICT (tenant, employee_id) DO UPDATE SET n = person_changes.n + 1;
        ELSE
            INSERT INTO person_changes (employee_id, n)
                SELECT DISTINCT o.employee_id, 1 FROM old_rows x JOIN orders o ON o.id = x.order_id
                ORDER BY 1
                ON CONFLICT (tenant, employee_id) DO UPDATE SET n = person_changes.n + 1;
        END IF;
    ELSIF TG_OP = 'INSERT' THEN
        INSERT INTO person_changes (employee_id, n)
            SELECT DISTINCT employee_id, 1 FROM new_rows WHERE employee_id IS NOT NULL
            ORDER BY 1
            ON CONFLICT (tenant, employee_id) DO UPDATE SET n = person_changes.n + 1;
    ELSIF TG_OP = 'UPDATE' THEN
        INSERT INTO person_changes (employee_id, n)
            SELECT e, 1 FROM (SELECT employee_id FROM new_rows UNION SELECT employee_id FROM old_rows) AS w(e)
            WHERE e IS NOT NULL ORDER BY 1
            ON CONFLICT (tenant, employee_id) DO UPDATE SET n = person_changes.n + 1;
    ELSE
        INSERT INTO person_changes (employee_id, n)
            SELECT DISTINCT employee_id, 1 FROM old_rows WHERE employee_id IS NOT NULL
            ORDER BY 1
            ON CONFLICT (tenant, employee_id) DO UPDATE SET n = person_changes.n + 1;
    END IF;
    RETURN NULL;
END;
$$;

-- Everyone's row, once per transaction (as 0018's counter).
CREATE FUNCTION everyone_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('zaitaku.everyone_changed', true) IS DISTINCT FROM 'yes' THEN
        INSERT INTO person_changes (employee_id, n) VALUES ('', 1)
            ON CONFLICT (tenant, employee_id) DO UPDATE SET n = person_changes.n + 1;
        PERFORM set_config('zaitaku.everyone_changed', 'yes', true);
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER orders_person_i AFTER INSERT ON orders REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION person_changed();
CREATE TRIGGER orders_person_u AFTER UPDATE ON orders REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION person_changed();
CREATE TRIGGER orders_person_d AFTER DELETE ON orders REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION person_changed();
CREATE TRIGGER reports_person_i AFTER INSERT ON reports REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION person_changed();
CREATE TRIGGER reports_person_u AFTER UPDATE ON reports REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION person_changed();
CREATE TRIGGER reports_person_d AFTER DELETE ON reports REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION person_changed();
CREATE TRIGGER escalations_person_i AFTER INSERT ON escalations REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION person_changed();
CREATE TRIGGER escalations_person_u AFTER UPDATE ON escalations REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION person_changed();
CREATE TRIGGER escalations_person_d AFTER DELETE ON escalations REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION person_changed();
-- A table emptied at once (by hand) is everyone's change.
CREATE TRIGGER orders_person_t AFTER TRUNCATE ON orders
    FOR EACH STATEMENT EXECUTE FUNCTION everyone_changed();
CREATE TRIGGER reports_person_t AFTER TRUNCATE ON reports
    FOR EACH STATEMENT EXECUTE FUNCTION everyone_changed();
CREATE TRIGGER escalations_person_t AFTER TRUNCATE ON escalations
    FOR EACH STATEMENT EXECUTE FUNCTION everyone_changed();
CREATE TRIGGER employees_everyone AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON employees
    FOR EACH STATEMENT EXECUTE FUNCTION everyone_changed();
CREATE TRIGGER employee_emails_everyone AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON employee_emails
    FOR EACH STATEMENT EXECUTE FUNCTION everyone_changed();
CREATE TRIGGER deputies_everyone AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON deputies
    FOR EACH STATEMENT EXECUTE FUNCTION everyone_changed();
