-- Every archiving and un-archiving of a hosted project (PEP 792 status `archived`: no more
-- uploads, downloads continue). Append-only: the latest row at or before an instant is the
-- project's status then (`archived` 1, or 0 once undone), so snapshots show the status of theirs.
CREATE TABLE project_status_events (
    source TEXT NOT NULL,
    project TEXT NOT NULL,
    at BIGINT NOT NULL,
    archived BIGINT NOT NULL,
    reason TEXT,
    changed_by TEXT NOT NULL,
    PRIMARY KEY (source, project, at)
);
