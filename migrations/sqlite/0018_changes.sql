-- A counter of changes to what a teleworker's page shows (issue 20): every write to orders,
-- reports, escalations, employees, their e-mail addresses or deputies bumps it, in the writer's
-- own transaction, whichever process writes (the daemon, the CLI, the web). The web keeps a
-- person's page data while the counter has not moved (src/web/my_cache.rs says why a counter
-- and not `PRAGMA data_version`).
-- One row, found by its rowid (id 1): the cheapest row for a per-row trigger to update.
CREATE TABLE changes (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    n BIGINT NOT NULL
);
INSERT INTO changes (id, n) VALUES (1, 0);

CREATE TRIGGER orders_changed_i AFTER INSERT ON orders BEGIN UPDATE changes SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER orders_changed_u AFTER UPDATE ON orders BEGIN UPDATE changes SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER orders_changed_d AFTER DELETE ON orders BEGIN UPDATE changes SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER reports_changed_i AFTER INSERT ON reports BEGIN UPDATE changes SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER reports_changed_u AFTER UPDATE ON reports BEGIN UPDATE changes SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER reports_changed_d AFTER DELETE ON reports BEGIN UPDATE changes SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER escalations_changed_i AFTER INSERT ON escalations BEGIN UPDATE changes SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER escalations_changed_u AFTER UPDATE ON escalations BEGIN UPDATE changes SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER escalations_changed_d AFTER DELETE ON escalations BEGIN UPDATE changes SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER employees_changed_i AFTER INSERT ON employees BEGIN UPDATE changes SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER employees_changed_u AFTER UPDATE ON employees BEGIN UPDATE changes SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER employees_changed_d AFTER DELETE ON employees BEGIN UPDATE changes SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER employee_emails_changed_i AFTER INSERT ON employee_emails BEGIN UPDATE changes SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER employee_emails_changed_u AFTER UPDATE ON employee_emails BEGIN UPDATE changes SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER employee_emails_changed_d AFTER DELETE ON employee_emails BEGIN UPDATE changes SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER deputies_changed_i AFTER INSERT ON deputies BEGIN UPDATE changes SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER deputies_changed_u AFTER UPDATE ON deputies BEGIN UPDATE changes SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER deputies_changed_d AFTER DELETE ON deputies BEGIN UPDATE changes SET n = n + 1 WHERE id = 1; END;

-- A person's unmatched reports of a day (no order, or not counted for one), found by sender
-- without reading the day's thousands of matched reports; only those rows are in it.
CREATE INDEX reports_unmatched ON reports(sender, day) WHERE reason NOT IN ('matched', 'resolution');
