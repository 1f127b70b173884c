-- The organizations' locals (stores, warehouses) as the Auth Service last told them
-- (`auth.local.created|updated|deleted`, page 06). A product cannot be assigned to a local Auth
-- deleted or deactivated; a local never heard of is judged by the caller's token alone (the
-- catalog may start after Auth created its locals).
CREATE TABLE organization_locals (
    organization_id uuid NOT NULL,
    local_id uuid NOT NULL,
    name text,
    is_active boolean NOT NULL DEFAULT true,
    deleted_at timestamptz,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (organization_id, local_id)
);

-- Every write path (single, bulk, import) meets the same rule; the error names a constraint the
-- service maps to `local_id`, as a foreign key would be.
CREATE FUNCTION products_local_not_retired() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.local_id IS NOT NULL
       AND (TG_OP = 'INSERT' OR NEW.local_id IS DISTINCT FROM OLD.local_id)
       AND EXISTS (
           SELECT 1 FROM organization_locals l
           WHERE l.organization_id = NEW.organization_id AND l.local_id = NEW.local_id
             AND (l.deleted_at IS NOT NULL OR NOT l.is_active)) THEN
        RAISE EXCEPTION 'local % was deleted or deactivated', NEW.local_id
            USING ERRCODE = 'foreign_key_violation', CONSTRAINT = 'products_local_retired';
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER products_local_retired BEFORE INSERT OR UPDATE OF local_id ON products
    FOR EACH ROW EXECUTE FUNCTION products_local_not_retired();
