-- Uploaded images' files waiting to be removed from object storage: the store's outbox.
-- A deleted image's keys are written here in the transaction that deletes its row, so a
-- committed deletion always reaches the store (the worker retries until it does). An upload
-- writes its keys here before it writes the files, due a grace period later, and the
-- transaction that inserts the image row takes them out again: an upload that never commits
-- (store failure, refused row, crashed process) has its files removed when they fall due.
CREATE TABLE media_deletions (
    storage_key     text        PRIMARY KEY,
    organization_id uuid        NOT NULL,
    due_at          timestamptz NOT NULL,
    attempts        integer     NOT NULL DEFAULT 0,
    last_error      text
);
CREATE INDEX media_deletions_due ON media_deletions (due_at);
