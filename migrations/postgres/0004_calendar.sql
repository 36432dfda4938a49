-- An order a supervisor approved for a day the city hall is closed (holiday_ok=true with
-- shifted=true). Escalation chains and digests run for such an order on a closed day, and only
-- for such an order.
ALTER TABLE orders ADD COLUMN holiday_ok BIGINT NOT NULL DEFAULT 0;
