-- Transactional outbox: a write and its event commit together; the worker relays rows to
-- RabbitMQ and marks them published only after the broker confirmed them.
CREATE TABLE outbox (
    -- bigserial gives the relay a total order; per aggregate it is commit order because
    -- writes to one aggregate serialize on its row lock.
    id                bigserial   PRIMARY KEY,
    event_id          uuid        NOT NULL UNIQUE,
    organization_id   uuid        NOT NULL,
    event_type        text        NOT NULL,
    aggregate_type    text        NOT NULL,
    aggregate_id      uuid        NOT NULL,
    aggregate_version integer     NOT NULL,
    payload           jsonb       NOT NULL,
    created_at        timestamptz NOT NULL DEFAULT now(),
    published_at      timestamptz,
    attempts          integer     NOT NULL DEFAULT 0,
    last_error        text
);
CREATE INDEX outbox_unpublished ON outbox (id) WHERE published_at IS NULL;
CREATE INDEX outbox_published_at ON outbox (published_at) WHERE published_at IS NOT NULL;

-- Wake the relay as soon as rows commit instead of waiting for its next poll.
CREATE FUNCTION outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('catalog_outbox', '');
    RETURN NULL;
END $$;
CREATE TRIGGER outbox_notify AFTER INSERT ON outbox
    FOR EACH STATEMENT EXECUTE FUNCTION outbox_notify();

-- Events consumed from other services, remembered so a redelivery changes nothing twice.
CREATE TABLE processed_events (
    consumer     text        NOT NULL,
    event_id     text        NOT NULL,
    processed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, event_id)
);
CREATE INDEX processed_events_processed_at ON processed_events (processed_at);

-- Organization state mirrored from the Auth Service's events.
CREATE TABLE organization_states (
    organization_id uuid        PRIMARY KEY,
    suspended       boolean     NOT NULL DEFAULT false,
    deactivated_at  timestamptz,
    updated_at      timestamptz NOT NULL DEFAULT now()
);

-- Users the Auth Service deactivated: refused even while a self-contained JWT is unexpired.
CREATE TABLE deactivated_users (
    user_id         uuid        PRIMARY KEY,
    organization_id uuid,
    deactivated_at  timestamptz NOT NULL DEFAULT now()
);
