DROP TABLE inventory_warehouses;
DROP TABLE variant_stock;
