-- Each index is written for every stored report and mail; a backlog of 100,000 mails spends
-- more time there than on anything else but parsing (docs/benchmarks.md).
-- reports(order_id) is the first column of reports_order_kind, which serves its queries.
DROP INDEX IF EXISTS reports_order;
-- Only mails posted to a Matrix room get a remote ID: index those alone.
DROP INDEX IF EXISTS outbox_remote;
CREATE INDEX outbox_remote ON outbox(remote_id) WHERE remote_id IS NOT NULL;
