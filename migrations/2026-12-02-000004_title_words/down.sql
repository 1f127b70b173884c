CREATE INDEX products_search_document ON products USING gin (search_document);
DROP INDEX products_org_search_document;
DROP TRIGGER products_title_words_update ON products;
DROP TRIGGER products_title_words_insert ON products;
DROP FUNCTION catalog_remember_title_words();
DROP FUNCTION catalog_title_words(text);
DROP TABLE product_title_words;
DROP EXTENSION IF EXISTS btree_gin;
