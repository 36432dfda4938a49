-- Several municipalities on one database are a PostgreSQL matter (SPEC §13, issue 21): a SQLite
-- database stays one city, and nothing here changes what it does. The queries are written once
-- for both backends, and on PostgreSQL each unique key a city chooses (an employee ID, an
-- e-mail address, a department name, …) became unique per tenant, so the queries' ON CONFLICT
-- targets now name the tenant. These columns (always '') and indexes let the same SQL text
-- run here; the old single-column keys stay, so nothing that was refused is accepted now.
-- Reports, escalations and digests need none: their inserts say ON CONFLICT DO NOTHING
-- without a target, so the hot path of the intake writes no extra index.
ALTER TABLE departments ADD COLUMN tenant TEXT NOT NULL DEFAULT '';
CREATE UNIQUE INDEX departments_tenant ON departments (tenant, name);
ALTER TABLE employees ADD COLUMN tenant TEXT NOT NULL DEFAULT '';
CREATE UNIQUE INDEX employees_tenant ON employees (tenant, employee_id);
ALTER TABLE employee_emails ADD COLUMN tenant TEXT NOT NULL DEFAULT '';
CREATE UNIQUE INDEX employee_emails_tenant ON employee_emails (tenant, email);
ALTER TABLE chat_identities ADD COLUMN tenant TEXT NOT NULL DEFAULT '';
CREATE UNIQUE INDEX chat_identities_tenant ON chat_identities (tenant, platform, identity);
ALTER TABLE users ADD COLUMN tenant TEXT NOT NULL DEFAULT '';
CREATE UNIQUE INDEX users_tenant ON users (tenant, employee_id);
ALTER TABLE orders ADD COLUMN tenant TEXT NOT NULL DEFAULT '';
CREATE UNIQUE INDEX orders_tenant ON orders (tenant, employee_id, date);
ALTER TABLE answer_counts ADD COLUMN tenant TEXT NOT NULL DEFAULT '';
CREATE UNIQUE INDEX answer_counts_tenant ON answer_counts (tenant, address, day);
ALTER TABLE mailbox_state ADD COLUMN tenant TEXT NOT NULL DEFAULT '';
CREATE UNIQUE INDEX mailbox_state_tenant ON mailbox_state (tenant, mailbox);
ALTER TABLE chat_state ADD COLUMN tenant TEXT NOT NULL DEFAULT '';
CREATE UNIQUE INDEX chat_state_tenant ON chat_state (tenant, name);
