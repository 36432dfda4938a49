-- The web register (SPEC §9): accounts are employees with a password, sessions and API tokens
-- are stored as SHA-256 hashes only (a copy of the database opens no session), failed logins
-- are counted to slow guessing down, and refused attempts are kept for IT to review.
CREATE TABLE users (
    employee_id TEXT PRIMARY KEY REFERENCES employees(employee_id),
    password_hash TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    employee_id TEXT NOT NULL REFERENCES employees(employee_id),
    csrf TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX sessions_expires ON sessions(expires_at);

CREATE TABLE api_tokens (
    token_hash TEXT PRIMARY KEY,
    employee_id TEXT NOT NULL REFERENCES employees(employee_id),
    label TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL
);

CREATE TABLE login_failures (
    id INTEGER PRIMARY KEY,
    login TEXT NOT NULL,
    at BIGINT NOT NULL
);
CREATE INDEX login_failures_login ON login_failures(login, at);

CREATE TABLE web_audit (
    id INTEGER PRIMARY KEY,
    at BIGINT NOT NULL,
    employee_id TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    outcome TEXT NOT NULL
);
CREATE INDEX web_audit_at ON web_audit(at);

-- Who asked for a draft order on the web, and when (the approval stays in approved_by/_at).
ALTER TABLE orders ADD COLUMN requested_by TEXT;
ALTER TABLE orders ADD COLUMN requested_at BIGINT;
