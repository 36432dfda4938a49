-- Escalation steps, supervisor digests. A unique key makes each step (and each digest) happen
-- once, across repeated ticks, restarts and several daemons on one database.
CREATE TABLE escalations (
    id INTEGER PRIMARY KEY,
    -- 'order:<order id>:<kind>:<step>' for chain steps, 'report:<report id>:<kind>' for at-once notices
    key TEXT NOT NULL UNIQUE,
    order_id BIGINT,
    report_id BIGINT,
    day TEXT NOT NULL,
    -- missing_start | missing_end | no_order | incident
    kind TEXT NOT NULL,
    step BIGINT NOT NULL,
    due_at BIGINT NOT NULL,
    fired_at BIGINT NOT NULL,
    -- employee IDs, comma-separated
    recipients TEXT NOT NULL DEFAULT '',
    -- sent | expired (due on a day already past when first seen: nothing sent)
    status TEXT NOT NULL,
    message_id TEXT,
    resolved_at BIGINT,
    resolved_by TEXT,
    resolution TEXT
);
CREATE INDEX escalations_day ON escalations(day);
CREATE INDEX escalations_order ON escalations(order_id);

CREATE TABLE digests (
    id INTEGER PRIMARY KEY,
    day TEXT NOT NULL,
    -- the cron time it answers, local 'HH:MM'
    slot TEXT NOT NULL,
    department TEXT NOT NULL,
    sent_at BIGINT NOT NULL,
    message_id TEXT,
    UNIQUE (day, slot, department)
);

-- Phone contacts recorded by a supervisor are reports with source 'phone'; who recorded them:
ALTER TABLE reports ADD COLUMN recorded_by TEXT;
