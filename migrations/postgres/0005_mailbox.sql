-- Where the daemon is in each IMAP mailbox: the UIDVALIDITY it saw and the last UID whose
-- message is committed. Updated in the same transaction as the reports of a batch, so a
-- message is processed exactly once across restarts.
CREATE TABLE mailbox_state (
    mailbox TEXT PRIMARY KEY,
    uid_validity BIGINT NOT NULL,
    last_uid BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
