-- Which daemon reads which IMAP mailbox (issue 21). Without it every daemon on the database
-- watched every mailbox: a second daemon fetched and stored each mail again, lost the race on
-- the reports' unique key, and added no throughput. A mailbox is read by the daemon holding its
-- lease; the holder renews it while it runs and gives it back when it stops, and a lease that
-- runs out (a daemon killed, a host gone) is taken by another. The unique keys stay what keeps
-- a mail from being recorded twice: the lease only keeps daemons from doing the same work.
CREATE TABLE mailbox_leases (
    tenant TEXT NOT NULL DEFAULT current_setting('zaitaku.tenant'),
    mailbox TEXT NOT NULL,
    owner TEXT NOT NULL,
    lease_until BIGINT NOT NULL,
    PRIMARY KEY (tenant, mailbox)
);
ALTER TABLE mailbox_leases ENABLE ROW LEVEL SECURITY;
ALTER TABLE mailbox_leases FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON mailbox_leases
    USING (tenant = current_setting('zaitaku.tenant', true))
    WITH CHECK (tenant = current_setting('zaitaku.tenant', true));

-- The daemons running on this database, each renewing its row while it runs: how many share
-- the mailboxes, and how many each holds, so that each takes its fair part. No city's data:
-- a process's name, a time and two counts, so no tenant (as `tenants`).
CREATE TABLE daemons (
    id TEXT PRIMARY KEY,
    alive_until BIGINT NOT NULL,
    serves BIGINT NOT NULL,
    holds BIGINT NOT NULL
);
