-- Waivers of content-scan findings: an approver's exception to one rule (`rule`, a finding's rule
-- id) for an exact version in a lane, with a justification and an optional expiry (`expires_at`,
-- microseconds). `files_json` lists the sha256 of the files that had the finding when it was given
-- (a JSON array; empty: every file of the version). Kept with the instants it was given and
-- revoked, so that a snapshot applies the waivers in force at its instant.
CREATE TABLE waivers (
    id BIGINT PRIMARY KEY,
    lane TEXT NOT NULL,
    ecosystem TEXT NOT NULL,
    name TEXT NOT NULL,
    version TEXT NOT NULL,
    rule TEXT NOT NULL,
    files_json TEXT NOT NULL,
    justification TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT,
    revoked_by TEXT,
    revoked_at BIGINT
);
