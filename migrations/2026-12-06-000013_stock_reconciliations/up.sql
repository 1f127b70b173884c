-- How fresh the stock read model is, per organization: the newest report applied (served by
-- this index, one row read) and the last time Inventory's own answer was compared with the model
-- (the worker's reconciliation, `stock-resync`). Stock answers say `stale: true` when both are
-- older than STOCK_STALE_AFTER_SECS.
CREATE INDEX variant_stock_newest_report ON variant_stock (organization_id, observed_at);

CREATE TABLE stock_reconciliations (
    organization_id   uuid        PRIMARY KEY,
    reconciled_at     timestamptz NOT NULL,
    variants_checked  integer     NOT NULL,
    variants_repaired integer     NOT NULL
);
