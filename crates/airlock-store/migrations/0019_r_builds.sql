-- Binary R packages built for a target (`[[r_binary]]`): one row per source file (its sha256)
-- and target (`{distro}-R{x.y}-{arch}`). A row is queued, then building (by `holder` until
-- `until`, after which anyone may take it), then built or failed. A built row never changes
-- again: `finished_at` tells a snapshot whether the binary existed at its instant. A failed row
-- is queued again (`attempts` + 1) when the dependencies it would build with change, or an
-- admin asks. `deps_json` lists the binaries of the dependencies it was built with
-- (`[{"package", "version", "sha256"}]`); `lane` is the lane whose packages they come from.
CREATE TABLE r_builds (
    source_sha256 TEXT NOT NULL,
    target TEXT NOT NULL,
    distro TEXT NOT NULL,
    source TEXT NOT NULL,
    filename TEXT NOT NULL,
    package TEXT NOT NULL,
    version TEXT NOT NULL,
    lane TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts BIGINT NOT NULL,
    reason TEXT,
    deps_json TEXT NOT NULL,
    binary_sha256 TEXT,
    binary_size BIGINT,
    binary_md5 TEXT,
    built_field TEXT,
    log_sha256 TEXT,
    requested_at BIGINT NOT NULL,
    not_before BIGINT NOT NULL,
    started_at BIGINT,
    finished_at BIGINT,
    holder TEXT,
    until BIGINT,
    PRIMARY KEY (source_sha256, target)
);
CREATE INDEX r_builds_state ON r_builds (state, not_before);
CREATE INDEX r_builds_package ON r_builds (package, version);
