DROP INDEX collections_org_parent_name_live;
ALTER TABLE variant_images DROP COLUMN metadata;
ALTER TABLE product_images DROP COLUMN metadata;
ALTER TABLE price_tiers DROP COLUMN metadata;
ALTER TABLE tags DROP COLUMN metadata;
ALTER TABLE collections DROP COLUMN metadata;
ALTER TABLE brands DROP COLUMN metadata;
ALTER TABLE brands DROP COLUMN website;
