-- The audit trail (SPEC §11, issue 18): one append-only entry per change to the register, in
-- the transaction of the change. Each entry's hash covers the one before it (prev_hash), and
-- audit_head names the last, so `zaitaku audit verify` finds an entry changed, removed or
-- added out of turn. Appends take the head's row lock: they are one at a time.
CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at BIGINT NOT NULL,
    actor TEXT NOT NULL,
    via TEXT NOT NULL,
    client TEXT,
    entity TEXT NOT NULL,
    entity_id TEXT NOT NULL,
    department TEXT,
    action TEXT NOT NULL,
    before_json TEXT,
    after_json TEXT,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE INDEX audit_log_at ON audit_log (at);
CREATE TABLE audit_head (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    last_id BIGINT NOT NULL,
    hash TEXT NOT NULL
);
INSERT INTO audit_head (id, last_id, hash) VALUES (1, 0, '');
