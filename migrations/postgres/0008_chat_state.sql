-- What a chat connection must remember across restarts: the Matrix `/sync` position
-- (`matrix.since:<user>`, saved in the transaction that stores the messages it covers) and,
-- when the bot logs in with a password, its access token (`matrix.token:<user>`), so that
-- its device and its transaction IDs stay the same.
CREATE TABLE chat_state (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);
