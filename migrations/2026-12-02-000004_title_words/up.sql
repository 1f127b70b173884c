-- POS search tolerates typos by correcting each typed word to the organization's known title
-- words, then matching the corrected words with full text. Comparing the typed text with every
-- title by trigram similarity instead reads and rechecks hundreds of titles per query.

CREATE EXTENSION IF NOT EXISTS btree_gin;

-- The distinct words (accent- and case-folded, three letters or more) of each organization's
-- product titles. Only ever grows: a word whose last product went away corrects to a word that
-- matches nothing, which is harmless.
CREATE TABLE product_title_words (
    organization_id uuid NOT NULL,
    word            text NOT NULL,
    PRIMARY KEY (organization_id, word)
);
CREATE INDEX product_title_words_trgm ON product_title_words USING gin (organization_id, word gin_trgm_ops);

CREATE FUNCTION catalog_title_words(title text) RETURNS SETOF text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
    AS $$ SELECT DISTINCT w FROM regexp_split_to_table(catalog_unaccent(lower(title)), '[^[:alnum:]]+') w
           WHERE length(w) >= 3 $$;

-- Statement-level, so a bulk write records its words in one insert. Words are inserted in
-- key order: two transactions adding the same new words wait for each other, never deadlock.
CREATE FUNCTION catalog_remember_title_words() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    INSERT INTO product_title_words (organization_id, word)
    SELECT DISTINCT n.organization_id, w FROM written_products n, catalog_title_words(n.title) w
     ORDER BY 1, 2
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END
$$;
CREATE TRIGGER products_title_words_insert AFTER INSERT ON products
    REFERENCING NEW TABLE AS written_products FOR EACH STATEMENT EXECUTE FUNCTION catalog_remember_title_words();
CREATE TRIGGER products_title_words_update AFTER UPDATE ON products
    REFERENCING NEW TABLE AS written_products FOR EACH STATEMENT EXECUTE FUNCTION catalog_remember_title_words();

INSERT INTO product_title_words (organization_id, word)
SELECT DISTINCT p.organization_id, w FROM products p, catalog_title_words(p.title) w
ON CONFLICT DO NOTHING;

-- Full text scoped by organization in one index: the global index had to be intersected with
-- a scan of every product of the organization.
CREATE INDEX products_org_search_document ON products USING gin (organization_id, search_document)
    WHERE deleted_at IS NULL;
DROP INDEX products_search_document;
