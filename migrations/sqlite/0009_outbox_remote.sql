-- What the receiving server called a message we sent, when it says (a Matrix event ID), so
-- that an answer in its thread can be traced back to it (a supervisor's 確認済 in chat).
ALTER TABLE outbox ADD COLUMN remote_id TEXT;
CREATE INDEX outbox_remote ON outbox(remote_id);
