-- Reconciliation claims (issue 18), as in the postgres folder: `claimed_by` names the replica
-- that re-sends the row, `claimed_until` is its lease (RFC 3339 text, compared as text).
ALTER TABLE product_change_history ADD COLUMN claimed_by TEXT NULL CHECK (claimed_by IS NULL OR length(claimed_by) <= 64);
ALTER TABLE product_change_history ADD COLUMN claimed_until TEXT NULL;
