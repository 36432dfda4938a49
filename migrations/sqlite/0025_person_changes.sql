-- 自分の在宅勤務's change counter, per person (issue 20). 0018's one counter moved with any
-- write of anyone's, so at 08:30, with a city's mail arriving every few seconds, no kept page
-- outlived the next mail and every load was a first load. A teleworker's page now stays good
-- while two rows stand still: their own, bumped by writes of their orders, their reports and
-- the escalation steps of their orders; and everyone's (employee_id ''), bumped by writes of
-- what a page shows of others or matches mail by (employees, their addresses, deputies). The
-- web reads both with the session (store::web::session_employee); a missing row reads 0.
CREATE TABLE person_changes (
    employee_id TEXT PRIMARY KEY,
    n BIGINT NOT NULL
) WITHOUT ROWID;

-- 0018's triggers bumped its one row for every write: they are replaced, not added to, so a
-- report still costs the ingest one counter update. Its table stays, no longer written.
DROP TRIGGER orders_changed_i;
DROP TRIGGER orders_changed_u;
DROP TRIGGER orders_changed_d;
DROP TRIGGER reports_changed_i;
DROP TRIGGER reports_changed_u;
DROP TRIGGER reports_changed_d;
DROP TRIGGER escalations_changed_i;
DROP TRIGGER escalations_changed_u;
DROP TRIGGER escalations_changed_d;
DROP TRIGGER employees_changed_i;
DROP TRIGGER employees_changed_u;
DROP TRIGGER employees_changed_d;
DROP TRIGGER employee_emails_changed_i;
DROP TRIGGER employee_emails_changed_u;
DROP TRIGGER employee_emails_changed_d;
DROP TRIGGER deputies_changed_i;
DROP TRIGGER deputies_changed_u;
DROP TRIGGER deputies_changed_d;

CREATE TRIGGER orders_person_i AFTER INSERT ON orders BEGIN
    INSERT INTO person_changes (employee_id, n) VALUES (NEW.employee_id, 1)
        ON CONFLICT (employee_id) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER orders_person_u AFTER UPDATE ON orders BEGIN
    INSERT INTO person_changes (employee_id, n) VALUES (NEW.employee_id, 1)
        ON CONFLICT (employee_id) DO UPDATE SET n = n + 1;
    INSERT INTO person_changes (employee_id, n) SELECT OLD.employee_id, 1
        WHERE OLD.employee_id IS NOT NEW.employee_id
        ON CONFLICT (employee_id) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER orders_person_d AFTER DELETE ON orders BEGIN
    INSERT INTO person_changes (employee_id, n) VALUES (OLD.employee_id, 1)
        ON CONFLICT (employee_id) DO UPDATE SET n = n + 1;
END;

-- A report of no one's (a stranger's mail) is on no teleworker's page.
CREATE TRIGGER reports_person_i AFTER INSERT ON reports WHEN NEW.employee_id IS NOT NULL BEGIN
    INSERT INTO person_changes (employee_id, n) VALUES (NEW.employee_id, 1)
        ON CONFLICT (employee_id) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER reports_person_u AFTER UPDATE ON reports BEGIN
    INSERT INTO person_changes (employee_id, n) SELECT NEW.employee_id, 1
        WHERE NEW.employee_id IS NOT NULL
        ON CONFLICT (employee_id) DO UPDATE SET n = n + 1;
    INSERT INTO person_changes (employee_id, n) SELECT OLD.employee_id, 1
        WHERE OLD.employee_id IS NOT NULL AND OLD.employee_id IS NOT NEW.employee_id
        ON CONFLICT (employee_id) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER reports_person_d AFTER DELETE ON reports WHEN OLD.employee_id IS NOT NULL BEGIN
    INSERT INTO person_changes (employee_id, n) VALUES (OLD.employee_id, 1)
        ON CONFLICT (employee_id) DO UPDATE SET n = n + 1;
END;

-- An escalation step is its order's person's.
CREATE TRIGGER escalations_person_i AFTER INSERT ON escalations BEGIN
    INSERT INTO person_changes (employee_id, n)
        SELECT employee_id, 1 FROM orders WHERE id = NEW.order_id
        ON CONFLICT (employee_id) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER escalations_person_u AFTER UPDATE ON escalations BEGIN
    INSERT INTO person_changes (employee_id, n)
        SELECT DISTINCT employee_id, 1 FROM orders WHERE id IN (NEW.order_id, OLD.order_id)
        ON CONFLICT (employee_id) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER escalations_person_d AFTER DELETE ON escalations BEGIN
    INSERT INTO person_changes (employee_id, n)
        SELECT employee_id, 1 FROM orders WHERE id = OLD.order_id
        ON CONFLICT (employee_id) DO UPDATE SET n = n + 1;
END;

-- Everyone's row.
CREATE TRIGGER employees_everyone_i AFTER INSERT ON employees BEGIN
    INSERT INTO person_changes (employee_id, n) VALUES ('', 1) ON CONFLICT (employee_id) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER employees_everyone_u AFTER UPDATE ON employees BEGIN
    INSERT INTO person_changes (employee_id, n) VALUES ('', 1) ON CONFLICT (employee_id) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER employees_everyone_d AFTER DELETE ON employees BEGIN
    INSERT INTO person_changes (employee_id, n) VALUES ('', 1) ON CONFLICT (employee_id) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER employee_emails_everyone_i AFTER INSERT ON employee_emails BEGIN
    INSERT INTO person_changes (employee_id, n) VALUES ('', 1) ON CONFLICT (employee_id) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER employee_emails_everyone_u AFTER UPDATE ON employee_emails BEGIN
    INSERT INTO person_changes (employee_id, n) VALUES ('', 1) ON CONFLICT (employee_id) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER employee_emails_everyone_d AFTER DELETE ON employee_emails BEGIN
    INSERT INTO person_changes (employee_id, n) VALUES ('', 1) ON CONFLICT (employee_id) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER deputies_everyone_i AFTER INSERT ON deputies BEGIN
    INSERT INTO person_changes (employee_id, n) VALUES ('', 1) ON CONFLICT (employee_id) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER deputies_everyone_u AFTER UPDATE ON deputies BEGIN
    INSERT INTO person_changes (employee_id, n) VALUES ('', 1) ON CONFLICT (employee_id) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER deputies_everyone_d AFTER DELETE ON deputies BEGIN
    INSERT INTO person_changes (employee_id, n) VALUES ('', 1) ON CONFLICT (employee_id) DO UPDATE SET n = n + 1;
END;
