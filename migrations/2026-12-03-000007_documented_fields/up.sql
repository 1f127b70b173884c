-- Fields the published REST pages document and front ends send: a brand's website, and free
-- `metadata` on brands, collections, tags, price tiers and images (products and variants have
-- theirs since the first migration).
ALTER TABLE brands ADD COLUMN website text;
ALTER TABLE brands ADD COLUMN metadata jsonb NOT NULL DEFAULT '{}';
ALTER TABLE collections ADD COLUMN metadata jsonb NOT NULL DEFAULT '{}';
ALTER TABLE tags ADD COLUMN metadata jsonb NOT NULL DEFAULT '{}';
ALTER TABLE price_tiers ADD COLUMN metadata jsonb NOT NULL DEFAULT '{}';
ALTER TABLE product_images ADD COLUMN metadata jsonb NOT NULL DEFAULT '{}';
ALTER TABLE variant_images ADD COLUMN metadata jsonb NOT NULL DEFAULT '{}';

-- Collection names are unique among live siblings (roots share the nil parent), as page 19 says.
CREATE UNIQUE INDEX collections_org_parent_name_live ON collections
    (organization_id, coalesce(parent_id, '00000000-0000-0000-0000-000000000000'::uuid), lower(name))
    WHERE deleted_at IS NULL;
