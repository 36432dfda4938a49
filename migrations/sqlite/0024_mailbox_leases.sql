-- Which daemon reads which IMAP mailbox, and the daemons running on this database
-- (PostgreSQL's file says why). Single-tenant: the tenant column is '' as in 0017.
CREATE TABLE mailbox_leases (
    tenant TEXT NOT NULL DEFAULT '',
    mailbox TEXT NOT NULL,
    owner TEXT NOT NULL,
    lease_until BIGINT NOT NULL,
    PRIMARY KEY (tenant, mailbox)
);

CREATE TABLE daemons (
    id TEXT PRIMARY KEY,
    alive_until BIGINT NOT NULL,
    serves BIGINT NOT NULL,
    holds BIGINT NOT NULL
);
