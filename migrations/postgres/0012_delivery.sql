-- Message-IDs carry a random part (a forged reply cannot name an escalation it never saw), so
-- they no longer say what caused a mail: `cause` does, and queuing the same cause twice stays a
-- no-op. Rows queued before keep their old Message-ID as their cause.
ALTER TABLE outbox ADD COLUMN cause TEXT;
UPDATE outbox SET cause = message_id;
CREATE UNIQUE INDEX outbox_cause ON outbox(cause);
-- Which process holds a row's lease ('host boot-id pid start-time'): a daemon restarted on the
-- same host gives back at once what a killed one had claimed, instead of waiting for the lease.
ALTER TABLE outbox ADD COLUMN lease_owner TEXT;
-- 1 while a mail waits because the server could not be reached (not for anything in the mail):
-- the first mail the server accepts again sends these at once.
ALTER TABLE outbox ADD COLUMN server_wait BIGINT NOT NULL DEFAULT 0;
-- Why a step could not be sent (a template that does not render, no valid address); status
-- is then 'failed'.
ALTER TABLE escalations ADD COLUMN error TEXT;
