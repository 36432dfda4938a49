-- Staff from the city's directory (issue 19): a leaver is deactivated, never deleted (their
-- orders, reports and audit entries keep pointing at them); directory_dn is the entry an
-- employee was last read from (NULL: from a CSV or typed in), so that a sync deactivates only
-- those the directory once had and no longer has.
ALTER TABLE employees ADD COLUMN active BIGINT NOT NULL DEFAULT 1;
ALTER TABLE employees ADD COLUMN directory_dn TEXT;
