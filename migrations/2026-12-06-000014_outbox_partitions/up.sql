-- The relay's partitions: the outbox is drained by `partitions` relays in parallel, each under its
-- own advisory lock, each taking the rows of the organizations that hash to it, so one
-- aggregate's events (one organization's) are still relayed by one relay in commit order.
-- One row: the partition count every relay follows and, while a change is under way, the
-- count it changes to (relays stop claiming when they see it; the change completes once no
-- batch of the old count is in flight). See catalog-worker/src/relay.rs.
CREATE TABLE outbox_relay (
    singleton   boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    partitions  integer NOT NULL DEFAULT 1 CHECK (partitions BETWEEN 1 AND 64),
    changing_to integer CHECK (changing_to BETWEEN 1 AND 64)
);
INSERT INTO outbox_relay DEFAULT VALUES;

-- An organization's partition among `partitions`: its id's last 28 bits (random in UUIDv4 and
-- UUIDv7 alike), modulo the count. Stable across PostgreSQL versions, unlike hashtext().
CREATE FUNCTION outbox_partition(organization uuid, partitions integer) RETURNS integer
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    AS $$ SELECT ('x' || right(organization::text, 7))::bit(28)::integer % partitions $$;
