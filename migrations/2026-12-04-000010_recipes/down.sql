DROP TRIGGER product_recipes_is_composite ON product_recipes;
DROP FUNCTION products_sync_is_composite();
ALTER TABLE products DROP COLUMN is_composite;
DROP TABLE recipe_ingredients;
DROP TABLE product_recipes;
