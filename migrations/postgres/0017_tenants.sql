-- Several municipalities on one database (SPEC §13, issue 21). Each is a tenant, named by its
-- 全国地方公共団体コード; every row of every table carries its tenant, and PostgreSQL itself keeps
-- the tenants apart: a row-level security policy on each table shows and accepts only the rows
-- of the tenant the connection set (`zaitaku.tenant`, set once per connection by Store::open).
-- A query that forgets the tenant therefore returns nothing of another city, and a connection
-- that never set it sees nothing at all.
--
-- The rows already here (a single-city database) belong to tenant '' — "the database's own
-- city", which is what every connection opened without --tenant uses — so such a database
-- works on unchanged after this migration; `tenants add --code C --name N --adopt` later
-- gives those rows the code C.
--
-- RLS does not bind superusers nor roles with BYPASSRLS: the application's role must be
-- neither (Store::open refuses one when a tenant is asked for). FORCE makes the policies bind
-- the tables' owner too, which is the role that ran these migrations.
CREATE TABLE tenants (
    code TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

DO $$
DECLARE
    t TEXT;
BEGIN
    FOREACH t IN ARRAY ARRAY[
        'departments', 'employees', 'employee_emails', 'applications', 'application_users',
        'id_assignments', 'orders', 'reports', 'outbox', 'escalations', 'digests',
        'mailbox_state', 'users', 'sessions', 'api_tokens', 'login_failures', 'web_audit',
        'chat_state', 'answer_counts', 'chat_identities', 'audit_log', 'audit_head', 'deputies'
    ] LOOP
        -- '' for the rows already here, then the connection's tenant for every new row: an
        -- INSERT never names the tenant, and one on a connection without it fails.
        EXECUTE format('ALTER TABLE %I ADD COLUMN tenant TEXT NOT NULL DEFAULT ''''', t);
        EXECUTE format('ALTER TABLE %I ALTER COLUMN tenant SET DEFAULT current_setting(''zaitaku.tenant'')', t);
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        -- missing_ok: a connection that never set the tenant compares with NULL and sees nothing.
        EXECUTE format(
            'CREATE POLICY tenant_isolation ON %I USING (tenant = current_setting(''zaitaku.tenant'', true)) '
            'WITH CHECK (tenant = current_setting(''zaitaku.tenant'', true))', t);
    END LOOP;
END
$$;

-- Keys a city chooses (employee IDs, e-mail addresses, department names, mailbox and chat
-- names) repeat across cities: each unique key becomes unique within its tenant, and each
-- foreign key on such a key points within the tenant. Keys made of generated IDs stay as they
-- are (IDs come from one sequence per table). Unique keys whose values only look global
-- (Message-IDs, outbox causes, escalation keys) are per tenant too: the same mail sent to two
-- cities' bots, or a cause naming a department, must not collide with a row the other city
-- cannot see (ON CONFLICT DO NOTHING would drop it without a word).
-- CASCADE drops the foreign keys that point at the old keys; they are made again below.
ALTER TABLE departments DROP CONSTRAINT departments_pkey CASCADE;
ALTER TABLE departments ADD PRIMARY KEY (tenant, name);
ALTER TABLE employees DROP CONSTRAINT employees_pkey CASCADE;
ALTER TABLE employees ADD PRIMARY KEY (tenant, employee_id);
ALTER TABLE employee_emails DROP CONSTRAINT employee_emails_pkey;
ALTER TABLE employee_emails ADD PRIMARY KEY (tenant, email);
ALTER TABLE applications DROP CONSTRAINT applications_department_fiscal_year_key;
ALTER TABLE applications ADD UNIQUE (tenant, department, fiscal_year);
ALTER TABLE orders DROP CONSTRAINT orders_employee_id_date_key;
ALTER TABLE orders ADD UNIQUE (tenant, employee_id, date);
ALTER TABLE reports DROP CONSTRAINT reports_message_key_key;
ALTER TABLE reports ADD UNIQUE (tenant, message_key);
ALTER TABLE outbox DROP CONSTRAINT outbox_message_id_key;
ALTER TABLE outbox ADD UNIQUE (tenant, message_id);
DROP INDEX outbox_cause;
CREATE UNIQUE INDEX outbox_cause ON outbox (tenant, cause);
ALTER TABLE escalations DROP CONSTRAINT escalations_key_key;
ALTER TABLE escalations ADD UNIQUE (tenant, key);
ALTER TABLE digests DROP CONSTRAINT digests_day_slot_department_key;
ALTER TABLE digests ADD UNIQUE (tenant, day, slot, department);
ALTER TABLE mailbox_state DROP CONSTRAINT mailbox_state_pkey;
ALTER TABLE mailbox_state ADD PRIMARY KEY (tenant, mailbox);
ALTER TABLE users DROP CONSTRAINT users_pkey;
ALTER TABLE users ADD PRIMARY KEY (tenant, employee_id);
ALTER TABLE chat_state DROP CONSTRAINT chat_state_pkey;
ALTER TABLE chat_state ADD PRIMARY KEY (tenant, name);
ALTER TABLE answer_counts DROP CONSTRAINT answer_counts_pkey;
ALTER TABLE answer_counts ADD PRIMARY KEY (tenant, address, day);
ALTER TABLE chat_identities DROP CONSTRAINT chat_identities_pkey;
ALTER TABLE chat_identities ADD PRIMARY KEY (tenant, platform, identity);
ALTER TABLE audit_head DROP CONSTRAINT audit_head_pkey;
ALTER TABLE audit_head ADD PRIMARY KEY (tenant, id);

-- ON UPDATE CASCADE: `tenants add --adopt` renames tenant '' to a code, parents first.
ALTER TABLE employees ADD FOREIGN KEY (tenant, department)
    REFERENCES departments (tenant, name) ON UPDATE CASCADE;
ALTER TABLE applications ADD FOREIGN KEY (tenant, department)
    REFERENCES departments (tenant, name) ON UPDATE CASCADE;
ALTER TABLE employee_emails ADD FOREIGN KEY (tenant, employee_id)
    REFERENCES employees (tenant, employee_id) ON UPDATE CASCADE;
ALTER TABLE application_users ADD FOREIGN KEY (tenant, employee_id)
    REFERENCES employees (tenant, employee_id) ON UPDATE CASCADE;
ALTER TABLE id_assignments ADD FOREIGN KEY (tenant, employee_id)
    REFERENCES employees (tenant, employee_id) ON UPDATE CASCADE;
ALTER TABLE orders ADD FOREIGN KEY (tenant, employee_id)
    REFERENCES employees (tenant, employee_id) ON UPDATE CASCADE;
ALTER TABLE orders ADD FOREIGN KEY (tenant, approved_by)
    REFERENCES employees (tenant, employee_id) ON UPDATE CASCADE;
ALTER TABLE users ADD FOREIGN KEY (tenant, employee_id)
    REFERENCES employees (tenant, employee_id) ON UPDATE CASCADE;
ALTER TABLE sessions ADD FOREIGN KEY (tenant, employee_id)
    REFERENCES employees (tenant, employee_id) ON UPDATE CASCADE;
ALTER TABLE api_tokens ADD FOREIGN KEY (tenant, employee_id)
    REFERENCES employees (tenant, employee_id) ON UPDATE CASCADE;
ALTER TABLE chat_identities ADD FOREIGN KEY (tenant, employee_id)
    REFERENCES employees (tenant, employee_id) ON UPDATE CASCADE;
ALTER TABLE deputies ADD FOREIGN KEY (tenant, supervisor)
    REFERENCES employees (tenant, employee_id) ON UPDATE CASCADE;
ALTER TABLE deputies ADD FOREIGN KEY (tenant, deputy)
    REFERENCES employees (tenant, employee_id) ON UPDATE CASCADE;
