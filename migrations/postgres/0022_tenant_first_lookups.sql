-- Every other look-up index leads with the tenant too (issue 21). Every query runs under the
-- row-level security policy `tenant = current_setting('zaitaku.tenant')`, and sqlx prepares its
-- statements: after five runs PostgreSQL may keep a generic plan, which cannot tell how few of
-- a range's rows are the tenant's. With `escalations (day)` the survey's escalation count read
-- the day range of all 455 cities' 327,136 steps for each city (14 ms each, a fifth of the
-- all-tenant survey); with `(tenant, day)` it reads the city's own. The same holds for an
-- employee ID, which repeats in every city (E1001), a login, an address, and the outbox's
-- pending rows each city's delivery loop polls. Names stay, so nothing else changes. SQLite is
-- single-tenant and keeps its indexes.
DROP INDEX employee_emails_employee;
CREATE INDEX employee_emails_employee ON employee_emails (tenant, employee_id);
DROP INDEX id_assignments_employee;
CREATE INDEX id_assignments_employee ON id_assignments (tenant, employee_id);
DROP INDEX reports_day;
CREATE INDEX reports_day ON reports (tenant, day);
DROP INDEX reports_unmatched;
CREATE INDEX reports_unmatched ON reports (tenant, sender, day)
    WHERE reason NOT IN ('matched', 'resolution');
DROP INDEX outbox_pending;
CREATE INDEX outbox_pending ON outbox (tenant, sent_at, failed_at, next_attempt_at);
DROP INDEX outbox_remote;
CREATE INDEX outbox_remote ON outbox (tenant, remote_id) WHERE remote_id IS NOT NULL;
DROP INDEX escalations_day;
CREATE INDEX escalations_day ON escalations (tenant, day);
DROP INDEX escalations_order;
CREATE INDEX escalations_order ON escalations (tenant, order_id);
DROP INDEX sessions_expires;
CREATE INDEX sessions_expires ON sessions (tenant, expires_at);
DROP INDEX login_failures_login;
CREATE INDEX login_failures_login ON login_failures (tenant, login, at);
DROP INDEX web_audit_at;
CREATE INDEX web_audit_at ON web_audit (tenant, at);
DROP INDEX chat_identities_employee;
CREATE INDEX chat_identities_employee ON chat_identities (tenant, employee_id);
DROP INDEX audit_log_at;
CREATE INDEX audit_log_at ON audit_log (tenant, at);
DROP INDEX deputies_deputy;
CREATE INDEX deputies_deputy ON deputies (tenant, deputy);
