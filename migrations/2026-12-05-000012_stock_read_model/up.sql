-- Stock as Inventory reports it: Inventory owns stock, this is the catalog's read model of it,
-- kept by the worker from Inventory's events (peers/inventory-service_14). One row per
-- organization, variant and warehouse. `observed_at` is the event's own time: an event older
-- than the row never overwrites it and one of the same time is a redelivery that changes
-- nothing (events arrive at least once and in any order). Rows exist only for variants of the
-- same organization (composite key), so an event naming another organization's variant is lost
-- on no one.
CREATE TABLE variant_stock (
    organization_id uuid          NOT NULL,
    variant_id      uuid          NOT NULL,
    warehouse_id    uuid          NOT NULL,
    total           numeric(14,3) NOT NULL DEFAULT 0,
    available       numeric(14,3) NOT NULL DEFAULT 0,
    reserved        numeric(14,3) NOT NULL DEFAULT 0,
    damaged         numeric(14,3) NOT NULL DEFAULT 0,
    in_transit      numeric(14,3) NOT NULL DEFAULT 0,
    observed_at     timestamptz   NOT NULL,
    applied_at      timestamptz   NOT NULL DEFAULT now(),
    PRIMARY KEY (organization_id, variant_id, warehouse_id),
    FOREIGN KEY (organization_id, variant_id) REFERENCES product_variants (organization_id, id) ON DELETE CASCADE
);

-- Inventory's warehouses as its events describe them (names for the stock answers).
CREATE TABLE inventory_warehouses (
    organization_id uuid        NOT NULL,
    warehouse_id    uuid        NOT NULL,
    name            text,
    code            text,
    is_active       boolean     NOT NULL DEFAULT true,
    observed_at     timestamptz NOT NULL,
    PRIMARY KEY (organization_id, warehouse_id)
);
