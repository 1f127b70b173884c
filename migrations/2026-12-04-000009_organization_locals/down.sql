DROP TRIGGER products_local_retired ON products;
DROP FUNCTION products_local_not_retired();
DROP TABLE organization_locals;
