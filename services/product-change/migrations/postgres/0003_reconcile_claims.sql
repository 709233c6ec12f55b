-- Reconciliation claims (issue 18): several replicas reconcile the same table, so a due row is
-- claimed atomically (FOR UPDATE SKIP LOCKED) before it is re-sent to KOS. `claimed_until` is a
-- lease: the rows of a replica that died mid-pass become due again when it runs out.
ALTER TABLE product_change_history ADD COLUMN claimed_by VARCHAR(64) NULL;
ALTER TABLE product_change_history ADD COLUMN claimed_until TIMESTAMPTZ NULL;
