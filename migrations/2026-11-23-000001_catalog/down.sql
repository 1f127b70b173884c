DROP TABLE variant_images;
DROP TABLE product_images;
DROP TABLE product_tags;
DROP TABLE tags;
DROP TABLE collection_products;
DROP TABLE collections;
DROP TABLE variant_option_values;
DROP TABLE product_option_assignments;
DROP TABLE product_option_values;
DROP TABLE product_options;
DROP TABLE product_variants;
DROP TABLE products;
DROP TABLE brands;
DROP FUNCTION catalog_unaccent(text);
-- Extensions are left installed: other schemas in the database may rely on them.
