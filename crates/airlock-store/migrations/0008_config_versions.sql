-- Versions of the managed configuration (sources, lanes, global blocks) that `airlock apply`
-- wrote: append-only, so a snapshot reads the lanes' rules in force at its instant.
CREATE TABLE config_versions (
    version BIGINT PRIMARY KEY,
    applied_at BIGINT NOT NULL,
    applied_by TEXT NOT NULL,
    body TEXT NOT NULL
);
