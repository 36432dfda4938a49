-- The register: departments, staff, applications, the ID pool, work orders; reports and outbox.
-- Instants are UTC epoch seconds (BIGINT), days are 'YYYY-MM-DD', times of day are minutes.
CREATE TABLE departments (
    name TEXT PRIMARY KEY,
    division TEXT NOT NULL,
    note TEXT,
    target BIGINT NOT NULL DEFAULT 1,
    no BIGINT
);

CREATE TABLE employees (
    employee_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    department TEXT NOT NULL REFERENCES departments(name),
    role TEXT NOT NULL,
    chat_id TEXT
);

CREATE TABLE employee_emails (
    email TEXT PRIMARY KEY,
    employee_id TEXT NOT NULL REFERENCES employees(employee_id)
);
CREATE INDEX employee_emails_employee ON employee_emails(employee_id);

CREATE TABLE applications (
    id INTEGER PRIMARY KEY,
    department TEXT NOT NULL REFERENCES departments(name),
    fiscal_year BIGINT NOT NULL,
    pc_name TEXT NOT NULL,
    emergency BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    UNIQUE (department, fiscal_year)
);

CREATE TABLE application_users (
    application_id BIGINT NOT NULL REFERENCES applications(id),
    employee_id TEXT NOT NULL REFERENCES employees(employee_id),
    PRIMARY KEY (application_id, employee_id)
);

CREATE TABLE id_assignments (
    id INTEGER PRIMARY KEY,
    id_no BIGINT NOT NULL,
    employee_id TEXT NOT NULL REFERENCES employees(employee_id),
    from_date TEXT NOT NULL,
    to_date TEXT NOT NULL,
    fiscal_year BIGINT NOT NULL
);
CREATE INDEX id_assignments_employee ON id_assignments(employee_id);

CREATE TABLE orders (
    id INTEGER PRIMARY KEY,
    employee_id TEXT NOT NULL REFERENCES employees(employee_id),
    date TEXT NOT NULL,
    start_min BIGINT NOT NULL,
    end_min BIGINT NOT NULL,
    content TEXT NOT NULL,
    approved_by TEXT REFERENCES employees(employee_id),
    approved_at BIGINT,
    shifted BIGINT NOT NULL DEFAULT 0,
    leave_spans TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL DEFAULT 'approved',
    cancelled_at BIGINT,
    UNIQUE (employee_id, date)
);
CREATE INDEX orders_date ON orders(date);

CREATE TABLE reports (
    id INTEGER PRIMARY KEY,
    message_key TEXT NOT NULL UNIQUE,
    message_id TEXT,
    source TEXT NOT NULL,
    received_at BIGINT NOT NULL,
    date_header BIGINT,
    day TEXT NOT NULL,
    sender TEXT NOT NULL,
    employee_id TEXT,
    kind TEXT NOT NULL,
    reason TEXT NOT NULL,
    order_id BIGINT,
    leave_noted BIGINT NOT NULL DEFAULT 0,
    incident BIGINT NOT NULL DEFAULT 0,
    subject TEXT NOT NULL DEFAULT '',
    summary TEXT NOT NULL DEFAULT '',
    raw BLOB
);
CREATE INDEX reports_day ON reports(day);
CREATE INDEX reports_order ON reports(order_id);

CREATE TABLE outbox (
    id INTEGER PRIMARY KEY,
    message_id TEXT NOT NULL UNIQUE,
    purpose TEXT NOT NULL,
    report_id BIGINT,
    envelope_from TEXT NOT NULL,
    envelope_to TEXT NOT NULL,
    subject TEXT NOT NULL,
    raw BLOB NOT NULL,
    created_at BIGINT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    lease_until BIGINT,
    sent_at BIGINT,
    failed_at BIGINT,
    last_error TEXT
);
CREATE INDEX outbox_pending ON outbox(sent_at, failed_at, next_attempt_at);
