-- The loop breaker (RFC 3834 §2): how many automatic answers went to one address on one day.
-- Counted in the transaction that queues the answers, so a crash neither forgets nor doubles.
CREATE TABLE answer_counts (
    address TEXT NOT NULL,
    day TEXT NOT NULL,
    answers BIGINT NOT NULL,
    PRIMARY KEY (address, day)
);
