-- The survey reads, for each approved order of a wave, its first matched start report and its
-- last matched end report. With every column in the index both come from one index seek, never
-- from the table (a million orders compile in seconds).
CREATE INDEX reports_order_kind ON reports(order_id, kind, reason, received_at);
