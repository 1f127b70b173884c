-- REST POSTs with an `Idempotency-Key` header: the first response to a key is stored and
-- replayed to retries, so a client that lost an answer can resend the request safely.
CREATE TABLE idempotency_keys (
    organization_id  uuid        NOT NULL,
    key              text        NOT NULL CHECK (length(key) BETWEEN 1 AND 255),
    -- sha256 of the user, method, path, query and body: the same key with another request is
    -- refused rather than answered with the other request's response.
    fingerprint      bytea       NOT NULL,
    -- NULL while the first request runs.
    status_code      smallint,
    response_headers jsonb,
    response_body    bytea,
    created_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (organization_id, key)
);
CREATE INDEX idempotency_keys_created_at ON idempotency_keys (created_at);
