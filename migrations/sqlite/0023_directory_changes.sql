-- A counter of changes to the staff directory (employees, their e-mail addresses, their chat
-- identities): the ingest keeps the directory it matches senders by while it stands still
-- (PostgreSQL's file says why). One row, by its rowid, as 0018's counter.
CREATE TABLE directory_changes (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    n BIGINT NOT NULL
);
INSERT INTO directory_changes (id, n) VALUES (1, 0);

CREATE TRIGGER employees_directory_i AFTER INSERT ON employees BEGIN UPDATE directory_changes SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER employees_directory_u AFTER UPDATE ON employees BEGIN UPDATE directory_changes SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER employees_directory_d AFTER DELETE ON employees BEGIN UPDATE directory_changes SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER employee_emails_directory_i AFTER INSERT ON employee_emails BEGIN UPDATE directory_changes SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER employee_emails_directory_u AFTER UPDATE ON employee_emails BEGIN UPDATE directory_changes SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER employee_emails_directory_d AFTER DELETE ON employee_emails BEGIN UPDATE directory_changes SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER chat_identities_directory_i AFTER INSERT ON chat_identities BEGIN UPDATE directory_changes SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER chat_identities_directory_u AFTER UPDATE ON chat_identities BEGIN UPDATE directory_changes SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER chat_identities_directory_d AFTER DELETE ON chat_identities BEGIN UPDATE directory_changes SET n = n + 1 WHERE id = 1; END;
