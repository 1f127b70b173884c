-- Recipes (bill of materials, page 03 "Recetas / BOM"): what a sale of a composite product
-- takes out of inventory. A recipe belongs to a product, for one of its variants or (variant
-- NULL) for all of them; an ingredient is a variant of the same organization (composite keys),
-- itself possibly composite. Cycles are refused by the service before a write (it names the
-- path); `products.is_composite` is kept here, true exactly while the product has an active
-- recipe.

CREATE TABLE product_recipes (
    id              uuid          PRIMARY KEY,
    organization_id uuid          NOT NULL,
    product_id      uuid          NOT NULL,
    variant_id      uuid,
    name            text          CHECK (length(name) BETWEEN 1 AND 100),
    yield_quantity  numeric(10,3) NOT NULL DEFAULT 1 CHECK (yield_quantity > 0),
    is_active       boolean       NOT NULL DEFAULT true,
    version         integer       NOT NULL DEFAULT 1,
    created_at      timestamptz   NOT NULL DEFAULT now(),
    updated_at      timestamptz   NOT NULL DEFAULT now(),
    UNIQUE (organization_id, id),
    UNIQUE NULLS NOT DISTINCT (organization_id, product_id, variant_id),
    FOREIGN KEY (organization_id, product_id) REFERENCES products (organization_id, id) ON DELETE CASCADE,
    FOREIGN KEY (organization_id, variant_id) REFERENCES product_variants (organization_id, id) ON DELETE CASCADE
);
CREATE INDEX product_recipes_variant ON product_recipes (organization_id, variant_id);

CREATE TABLE recipe_ingredients (
    id                    uuid          PRIMARY KEY,
    organization_id       uuid          NOT NULL,
    recipe_id             uuid          NOT NULL,
    ingredient_variant_id uuid          NOT NULL,
    quantity              numeric(12,4) NOT NULL CHECK (quantity > 0),
    unit                  text          NOT NULL CHECK (length(unit) BETWEEN 1 AND 20),
    is_optional           boolean       NOT NULL DEFAULT false,
    waste_percentage      numeric(5,2)  NOT NULL DEFAULT 0 CHECK (waste_percentage BETWEEN 0 AND 100),
    notes                 text,
    position              integer       NOT NULL DEFAULT 0,
    UNIQUE (recipe_id, ingredient_variant_id),
    FOREIGN KEY (organization_id, recipe_id) REFERENCES product_recipes (organization_id, id) ON DELETE CASCADE,
    -- No cascade: deleting (hard) a variant a recipe uses is refused; the service refuses the
    -- soft delete too unless forced (409 naming the recipes).
    FOREIGN KEY (organization_id, ingredient_variant_id) REFERENCES product_variants (organization_id, id)
);
CREATE INDEX recipe_ingredients_recipe ON recipe_ingredients (organization_id, recipe_id, position);
CREATE INDEX recipe_ingredients_variant ON recipe_ingredients (organization_id, ingredient_variant_id);

ALTER TABLE products ADD COLUMN is_composite boolean NOT NULL DEFAULT false;

CREATE FUNCTION products_sync_is_composite() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    touched uuid[] := ARRAY[]::uuid[];
    org uuid;
BEGIN
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        touched := touched || NEW.product_id;
        org := NEW.organization_id;
    END IF;
    IF TG_OP IN ('DELETE', 'UPDATE') THEN
        touched := touched || OLD.product_id;
        org := OLD.organization_id;
    END IF;
    UPDATE products p
       SET is_composite = EXISTS (
               SELECT 1 FROM product_recipes r
               WHERE r.organization_id = p.organization_id AND r.product_id = p.id AND r.is_active)
     WHERE p.organization_id = org AND p.id = ANY (touched)
       AND p.is_composite IS DISTINCT FROM EXISTS (
               SELECT 1 FROM product_recipes r
               WHERE r.organization_id = p.organization_id AND r.product_id = p.id AND r.is_active);
    RETURN NULL;
END $$;

CREATE TRIGGER product_recipes_is_composite AFTER INSERT OR DELETE OR UPDATE OF is_active, product_id
    ON product_recipes FOR EACH ROW EXECUTE FUNCTION products_sync_is_composite();
