-- The catalog proper: products, variants, options, brands, collections, tags, images.
--
-- Tenancy is enforced by the schema as well as by the repositories: every tenant-owned table
-- has `organization_id`, and every reference between tenant-owned rows is a composite foreign
-- key on (organization_id, id), so a row can never point at another organization's row.
-- Uniqueness among live rows uses partial unique indexes (`WHERE deleted_at IS NULL`), so a
-- soft-deleted SKU or slug can be reused and concurrent creates yield exactly one row.

CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE EXTENSION IF NOT EXISTS unaccent;

-- unaccent() is STABLE (its dictionary could change); index expressions need IMMUTABLE.
-- Pinning the dictionary makes the wrapper safe to declare immutable.
CREATE FUNCTION catalog_unaccent(text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
    AS $$ SELECT public.unaccent('public.unaccent'::regdictionary, $1) $$;

CREATE TABLE brands (
    id              uuid        PRIMARY KEY,
    organization_id uuid        NOT NULL,
    name            text        NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    slug            text        NOT NULL CHECK (length(slug) BETWEEN 1 AND 200),
    description     text,
    logo_url        text,
    status          text        NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'inactive')),
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    version         integer     NOT NULL DEFAULT 1,
    deleted_at      timestamptz,
    UNIQUE (organization_id, id)
);
CREATE UNIQUE INDEX brands_org_slug_live ON brands (organization_id, slug) WHERE deleted_at IS NULL;
CREATE UNIQUE INDEX brands_org_name_live ON brands (organization_id, lower(name)) WHERE deleted_at IS NULL;

CREATE TABLE products (
    id              uuid        PRIMARY KEY,
    organization_id uuid        NOT NULL,
    local_id        uuid,
    brand_id        uuid,
    title           text        NOT NULL CHECK (length(title) BETWEEN 1 AND 500),
    slug            text        NOT NULL CHECK (length(slug) BETWEEN 1 AND 500),
    sku             text        NOT NULL CHECK (length(sku) BETWEEN 1 AND 100),
    barcode         text        CHECK (length(barcode) BETWEEN 1 AND 100),
    description     text,
    status          text        NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'inactive', 'archived')),
    product_type    text,
    unit_of_measure text        NOT NULL DEFAULT 'unit',
    alert_stock     integer     NOT NULL DEFAULT 0 CHECK (alert_stock >= 0),
    has_variants    boolean     NOT NULL DEFAULT false,
    metadata        jsonb       NOT NULL DEFAULT '{}',
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    version         integer     NOT NULL DEFAULT 1,
    deleted_at      timestamptz,
    -- Spanish stemming, accent-insensitive: what POS users type ("camion" finds "Camión").
    search_document tsvector GENERATED ALWAYS AS (
        to_tsvector('spanish', catalog_unaccent(title || ' ' || coalesce(description, '')))
    ) STORED,
    UNIQUE (organization_id, id),
    FOREIGN KEY (organization_id, brand_id) REFERENCES brands (organization_id, id)
);
CREATE UNIQUE INDEX products_org_sku_live ON products (organization_id, sku) WHERE deleted_at IS NULL;
CREATE UNIQUE INDEX products_org_slug_live ON products (organization_id, slug) WHERE deleted_at IS NULL;
CREATE UNIQUE INDEX products_org_barcode_live ON products (organization_id, barcode)
    WHERE deleted_at IS NULL AND barcode IS NOT NULL;
-- Keyset pagination walks (organization_id, id); ids are UUIDv7, so this is creation order.
CREATE INDEX products_org_id_live ON products (organization_id, id) WHERE deleted_at IS NULL;
CREATE INDEX products_org_brand ON products (organization_id, brand_id) WHERE brand_id IS NOT NULL;
CREATE INDEX products_search_document ON products USING gin (search_document);
CREATE INDEX products_title_trgm ON products USING gin (catalog_unaccent(lower(title)) gin_trgm_ops);
-- text_pattern_ops serves `LIKE 'prefix%'` regardless of the database collation.
CREATE INDEX products_org_sku_prefix ON products (organization_id, sku text_pattern_ops);
CREATE INDEX products_org_barcode_prefix ON products (organization_id, barcode text_pattern_ops)
    WHERE barcode IS NOT NULL;

CREATE TABLE product_variants (
    id                uuid          PRIMARY KEY,
    organization_id   uuid          NOT NULL,
    product_id        uuid          NOT NULL,
    title             text,
    sku               text          NOT NULL CHECK (length(sku) BETWEEN 1 AND 100),
    barcode           text          CHECK (length(barcode) BETWEEN 1 AND 100),
    sale_price        numeric(12,2) NOT NULL CHECK (sale_price > 0),
    cost_price        numeric(12,2) CHECK (cost_price >= 0),
    compare_at_price  numeric(12,2) CHECK (compare_at_price >= 0),
    tax_rate          numeric(5,2)  NOT NULL DEFAULT 0 CHECK (tax_rate BETWEEN 0 AND 100),
    weight            numeric(10,3) CHECK (weight >= 0),
    dim_length        numeric(10,2) CHECK (dim_length >= 0),
    dim_width         numeric(10,2) CHECK (dim_width >= 0),
    dim_height        numeric(10,2) CHECK (dim_height >= 0),
    lot_number        text,
    vendor            text,
    warehouse_id      uuid,
    track_inventory   boolean       NOT NULL DEFAULT true,
    default_min_stock integer       NOT NULL DEFAULT 10 CHECK (default_min_stock >= 0),
    default_max_stock integer       NOT NULL DEFAULT 1000,
    attributes        jsonb         NOT NULL DEFAULT '{}',
    -- Canonical "option=value" list of the variant's option values; unique within a product.
    option_signature  text,
    position          integer       NOT NULL DEFAULT 0,
    is_active         boolean       NOT NULL DEFAULT true,
    metadata          jsonb         NOT NULL DEFAULT '{}',
    created_at        timestamptz   NOT NULL DEFAULT now(),
    updated_at        timestamptz   NOT NULL DEFAULT now(),
    version           integer       NOT NULL DEFAULT 1,
    deleted_at        timestamptz,
    CONSTRAINT product_variants_default_max_stock_check CHECK (default_max_stock >= default_min_stock),
    UNIQUE (organization_id, id),
    FOREIGN KEY (organization_id, product_id) REFERENCES products (organization_id, id) ON DELETE CASCADE
);
CREATE UNIQUE INDEX variants_org_sku_live ON product_variants (organization_id, sku) WHERE deleted_at IS NULL;
CREATE UNIQUE INDEX variants_org_barcode_live ON product_variants (organization_id, barcode)
    WHERE deleted_at IS NULL AND barcode IS NOT NULL;
CREATE UNIQUE INDEX variants_product_options_live ON product_variants (product_id, option_signature)
    WHERE deleted_at IS NULL AND option_signature IS NOT NULL;
CREATE INDEX variants_product_position ON product_variants (product_id, position, id);
CREATE INDEX variants_org_sku_prefix ON product_variants (organization_id, sku text_pattern_ops);
CREATE INDEX variants_org_barcode_prefix ON product_variants (organization_id, barcode text_pattern_ops)
    WHERE barcode IS NOT NULL;
CREATE INDEX variants_org_sale_price ON product_variants (organization_id, sale_price) WHERE deleted_at IS NULL;

CREATE TABLE product_options (
    id              uuid        PRIMARY KEY,
    organization_id uuid        NOT NULL,
    name            text        NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    position        integer     NOT NULL DEFAULT 0,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    version         integer     NOT NULL DEFAULT 1,
    deleted_at      timestamptz,
    UNIQUE (organization_id, id)
);
CREATE UNIQUE INDEX options_org_name_live ON product_options (organization_id, lower(name)) WHERE deleted_at IS NULL;

CREATE TABLE product_option_values (
    id              uuid        PRIMARY KEY,
    organization_id uuid        NOT NULL,
    option_id       uuid        NOT NULL,
    value           text        NOT NULL CHECK (length(value) BETWEEN 1 AND 100),
    position        integer     NOT NULL DEFAULT 0,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (organization_id, id),
    UNIQUE (organization_id, option_id, id),
    FOREIGN KEY (organization_id, option_id) REFERENCES product_options (organization_id, id) ON DELETE CASCADE
);
CREATE UNIQUE INDEX option_values_option_value ON product_option_values (option_id, lower(value));

-- Which options a product uses, in order (Color, then Talla).
CREATE TABLE product_option_assignments (
    organization_id uuid    NOT NULL,
    product_id      uuid    NOT NULL,
    option_id       uuid    NOT NULL,
    position        integer NOT NULL DEFAULT 0,
    PRIMARY KEY (product_id, option_id),
    FOREIGN KEY (organization_id, product_id) REFERENCES products (organization_id, id) ON DELETE CASCADE,
    FOREIGN KEY (organization_id, option_id) REFERENCES product_options (organization_id, id) ON DELETE CASCADE
);
CREATE INDEX option_assignments_option ON product_option_assignments (option_id);

-- One value per declared option for each variant; the FK on (option_id, value) pins the value
-- to the option it belongs to.
CREATE TABLE variant_option_values (
    organization_id uuid NOT NULL,
    variant_id      uuid NOT NULL,
    option_id       uuid NOT NULL,
    option_value_id uuid NOT NULL,
    PRIMARY KEY (variant_id, option_id),
    FOREIGN KEY (organization_id, variant_id) REFERENCES product_variants (organization_id, id) ON DELETE CASCADE,
    CONSTRAINT variant_option_values_value_fkey FOREIGN KEY (organization_id, option_id, option_value_id)
        REFERENCES product_option_values (organization_id, option_id, id) ON DELETE RESTRICT
);
CREATE INDEX variant_option_values_value ON variant_option_values (option_value_id);
CREATE INDEX variant_option_values_option ON variant_option_values (organization_id, option_id, option_value_id);

CREATE TABLE collections (
    id              uuid        PRIMARY KEY,
    organization_id uuid        NOT NULL,
    parent_id       uuid,
    name            text        NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    slug            text        NOT NULL CHECK (length(slug) BETWEEN 1 AND 200),
    description     text,
    image_url       text,
    status          text        NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'inactive')),
    position        integer     NOT NULL DEFAULT 0,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    version         integer     NOT NULL DEFAULT 1,
    deleted_at      timestamptz,
    CONSTRAINT collections_parent_id_check CHECK (parent_id IS DISTINCT FROM id),
    UNIQUE (organization_id, id),
    FOREIGN KEY (organization_id, parent_id) REFERENCES collections (organization_id, id)
);
CREATE UNIQUE INDEX collections_org_slug_live ON collections (organization_id, slug) WHERE deleted_at IS NULL;
CREATE INDEX collections_org_parent ON collections (organization_id, parent_id, position);

CREATE TABLE collection_products (
    organization_id uuid        NOT NULL,
    collection_id   uuid        NOT NULL,
    product_id      uuid        NOT NULL,
    position        integer     NOT NULL DEFAULT 0,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (collection_id, product_id),
    FOREIGN KEY (organization_id, collection_id) REFERENCES collections (organization_id, id) ON DELETE CASCADE,
    FOREIGN KEY (organization_id, product_id) REFERENCES products (organization_id, id) ON DELETE CASCADE
);
CREATE INDEX collection_products_product ON collection_products (product_id);

CREATE TABLE tags (
    id              uuid        PRIMARY KEY,
    organization_id uuid        NOT NULL,
    name            text        NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    slug            text        NOT NULL CHECK (length(slug) BETWEEN 1 AND 100),
    tag_type        text        NOT NULL DEFAULT 'custom' CHECK (tag_type IN ('category', 'feature', 'promotion', 'custom')),
    color           text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    version         integer     NOT NULL DEFAULT 1,
    deleted_at      timestamptz,
    UNIQUE (organization_id, id)
);
CREATE UNIQUE INDEX tags_org_name_live ON tags (organization_id, lower(name)) WHERE deleted_at IS NULL;
CREATE UNIQUE INDEX tags_org_slug_live ON tags (organization_id, slug) WHERE deleted_at IS NULL;

CREATE TABLE product_tags (
    organization_id uuid        NOT NULL,
    product_id      uuid        NOT NULL,
    tag_id          uuid        NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (product_id, tag_id),
    FOREIGN KEY (organization_id, product_id) REFERENCES products (organization_id, id) ON DELETE CASCADE,
    FOREIGN KEY (organization_id, tag_id) REFERENCES tags (organization_id, id) ON DELETE CASCADE
);
CREATE INDEX product_tags_tag ON product_tags (tag_id);

CREATE TABLE product_images (
    id              uuid        PRIMARY KEY,
    organization_id uuid        NOT NULL,
    product_id      uuid        NOT NULL,
    url             text        NOT NULL CHECK (length(url) BETWEEN 1 AND 2048),
    alt             text,
    position        integer     NOT NULL DEFAULT 0,
    is_primary      boolean     NOT NULL DEFAULT false,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (organization_id, product_id) REFERENCES products (organization_id, id) ON DELETE CASCADE
);
CREATE INDEX product_images_product ON product_images (product_id, position);
CREATE UNIQUE INDEX product_images_one_primary ON product_images (product_id) WHERE is_primary;

CREATE TABLE variant_images (
    id              uuid        PRIMARY KEY,
    organization_id uuid        NOT NULL,
    variant_id      uuid        NOT NULL,
    url             text        NOT NULL CHECK (length(url) BETWEEN 1 AND 2048),
    alt             text,
    position        integer     NOT NULL DEFAULT 0,
    is_primary      boolean     NOT NULL DEFAULT false,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (organization_id, variant_id) REFERENCES product_variants (organization_id, id) ON DELETE CASCADE
);
CREATE INDEX variant_images_variant ON variant_images (variant_id, position);
CREATE UNIQUE INDEX variant_images_one_primary ON variant_images (variant_id) WHERE is_primary;
