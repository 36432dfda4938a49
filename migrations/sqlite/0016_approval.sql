-- Approval routes (SPEC §11, issue 18). 差戻し: a draft sent back to the teleworker with a reason,
-- by whom and when (kept until it is resubmitted). 代決: approved_by stays the supervisor (the
-- 決裁権者), deputy_by is who stamped for them. A second step (部長): the supervisor's stamp stays
-- in approved_by/_at, the division head's goes to division_by/_at (division_deputy: 代決).
ALTER TABLE orders ADD COLUMN sent_back_reason TEXT;
ALTER TABLE orders ADD COLUMN sent_back_by TEXT;
ALTER TABLE orders ADD COLUMN sent_back_at BIGINT;
ALTER TABLE orders ADD COLUMN deputy_by TEXT;
ALTER TABLE orders ADD COLUMN division_by TEXT;
ALTER TABLE orders ADD COLUMN division_at BIGINT;
ALTER TABLE orders ADD COLUMN division_deputy TEXT;

-- A supervisor's deputy (代決者) for a range of days, both ends included.
CREATE TABLE deputies (
    id INTEGER PRIMARY KEY,
    supervisor TEXT NOT NULL REFERENCES employees(employee_id),
    deputy TEXT NOT NULL REFERENCES employees(employee_id),
    from_date TEXT NOT NULL,
    to_date TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX deputies_deputy ON deputies(deputy);

-- Repeating escalation steps (`repeat_minutes`, `max_repeats`): each repeat is an escalation row
-- of its own, keyed 'order:<id>:<kind>:<step>:r<n>', so it fires once across ticks and daemons.
ALTER TABLE escalations ADD COLUMN repeat_no BIGINT NOT NULL DEFAULT 0;
