-- Volume price tiers: a tier holds rules "from min_qty units, this unit price" per variant.
CREATE TABLE price_tiers (
    id              uuid        PRIMARY KEY,
    organization_id uuid        NOT NULL,
    name            text        NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    slug            text        NOT NULL CHECK (length(slug) BETWEEN 1 AND 200),
    description     text,
    -- 0 is the highest priority: the tier used when the caller names none.
    priority        integer     NOT NULL DEFAULT 0 CHECK (priority >= 0),
    is_active       boolean     NOT NULL DEFAULT true,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    version         integer     NOT NULL DEFAULT 1,
    deleted_at      timestamptz,
    UNIQUE (organization_id, id)
);
CREATE UNIQUE INDEX price_tiers_org_name_live ON price_tiers (organization_id, lower(name)) WHERE deleted_at IS NULL;
CREATE UNIQUE INDEX price_tiers_org_slug_live ON price_tiers (organization_id, slug) WHERE deleted_at IS NULL;
CREATE INDEX price_tiers_org_priority ON price_tiers (organization_id, priority) WHERE deleted_at IS NULL AND is_active;

CREATE TABLE price_tier_rules (
    id              uuid          PRIMARY KEY,
    organization_id uuid          NOT NULL,
    price_tier_id   uuid          NOT NULL,
    variant_id      uuid          NOT NULL,
    min_qty         integer       NOT NULL CHECK (min_qty > 0),
    price           numeric(12,2) NOT NULL CHECK (price > 0),
    created_at      timestamptz   NOT NULL DEFAULT now(),
    updated_at      timestamptz   NOT NULL DEFAULT now(),
    UNIQUE (price_tier_id, variant_id, min_qty),
    FOREIGN KEY (organization_id, price_tier_id) REFERENCES price_tiers (organization_id, id) ON DELETE CASCADE,
    FOREIGN KEY (organization_id, variant_id) REFERENCES product_variants (organization_id, id) ON DELETE CASCADE
);
CREATE INDEX price_tier_rules_variant ON price_tier_rules (variant_id, min_qty);
