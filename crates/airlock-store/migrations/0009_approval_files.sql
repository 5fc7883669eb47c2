-- The files an approval was given, by sha256: a file added to an approved release later (another
-- wheel tag) is not admitted without review. Append-only with the instant, as approvals are. An
-- approval with no rows here (made before any file of the version was known, or before this
-- table existed) admits the version whatever its files.
CREATE TABLE approval_files (
    lane TEXT NOT NULL,
    ecosystem TEXT NOT NULL,
    name TEXT NOT NULL,
    version TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    approved_at BIGINT NOT NULL,
    PRIMARY KEY (lane, ecosystem, name, version, sha256)
);
