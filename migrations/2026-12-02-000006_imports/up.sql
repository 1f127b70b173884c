-- Bulk import jobs (POST /api/v1/imports). An upload is parsed and staged line by line into
-- import_rows, then processed in batches in the background: each batch's upserts, its per-line
-- results and the job's counters commit together, so a job resumes after a crash from its last
-- committed batch and reports every line exactly once.
CREATE TABLE import_jobs (
    id              uuid        PRIMARY KEY,
    organization_id uuid        NOT NULL,
    -- The uploader, whose rights (locals) every batch is checked against.
    principal       jsonb       NOT NULL,
    format          text        NOT NULL CHECK (format IN ('csv', 'jsonl')),
    status          text        NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'running', 'completed', 'failed')),
    total_rows      integer     NOT NULL DEFAULT 0,
    processed_rows  integer     NOT NULL DEFAULT 0,
    created         integer     NOT NULL DEFAULT 0,
    updated         integer     NOT NULL DEFAULT 0,
    unchanged       integer     NOT NULL DEFAULT 0,
    failed          integer     NOT NULL DEFAULT 0,
    error           text,
    -- A running job whose lease has passed is taken over by any API replica.
    lease_until     timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    finished_at     timestamptz
);
CREATE INDEX import_jobs_claimable ON import_jobs (created_at) WHERE status IN ('queued', 'running');
CREATE INDEX import_jobs_org ON import_jobs (organization_id, created_at DESC);

-- One line of the uploaded file (1-based, the header excluded), as canonical columns (CSV) or
-- the product object (JSON Lines); `raw` is the line as sent, for the failed-rows download.
CREATE TABLE import_rows (
    organization_id uuid NOT NULL,
    job_id  uuid    NOT NULL REFERENCES import_jobs (id) ON DELETE CASCADE,
    line    integer NOT NULL,
    payload jsonb   NOT NULL,
    raw     text    NOT NULL,
    PRIMARY KEY (job_id, line)
);

CREATE TABLE import_results (
    organization_id uuid NOT NULL,
    job_id     uuid    NOT NULL REFERENCES import_jobs (id) ON DELETE CASCADE,
    line       integer NOT NULL,
    action     text    NOT NULL,
    product_id uuid,
    variant_id uuid,
    errors     jsonb   NOT NULL DEFAULT '[]',
    PRIMARY KEY (job_id, line)
);
