-- One schema for SQLite and PostgreSQL: portable types only (TEXT, BIGINT), times in
-- microseconds since the Unix epoch, no autoincrement (keys are chosen by the application).

-- A single row whose revision is bumped by every mutation. Bumping it first in each write
-- transaction serialises writers on both backends, and lets servers notice changes made by others.
CREATE TABLE meta (
    id BIGINT PRIMARY KEY,
    revision BIGINT NOT NULL
);
INSERT INTO meta (id, revision) VALUES (1, 0);

CREATE TABLE tokens (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    role TEXT NOT NULL,
    secret_sha256 TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);
CREATE UNIQUE INDEX tokens_active_name ON tokens (name) WHERE revoked_at IS NULL;

CREATE TABLE artifacts (
    source TEXT NOT NULL,
    filename TEXT NOT NULL,
    project TEXT NOT NULL,
    display_name TEXT NOT NULL,
    version TEXT NOT NULL,
    kind TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    size BIGINT NOT NULL,
    requires_python TEXT,
    metadata_sha256 TEXT,
    metadata_json TEXT NOT NULL,
    yanked_reason TEXT,
    upload_time BIGINT,
    first_seen BIGINT NOT NULL,
    uploaded_by TEXT,
    PRIMARY KEY (source, filename)
);
CREATE INDEX artifacts_project ON artifacts (source, project);
CREATE INDEX artifacts_sha256 ON artifacts (sha256);

CREATE TABLE audit_log (
    seq BIGINT PRIMARY KEY,
    at BIGINT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    subject TEXT NOT NULL,
    details TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
