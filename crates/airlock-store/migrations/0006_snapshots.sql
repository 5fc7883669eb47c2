-- Every yank and un-yank of a hosted release, so a snapshot answers with the yank state of its
-- instant (artifacts.yanked_reason holds only the current state). `reason` NULL: un-yanked.
CREATE TABLE yank_events (
    source TEXT NOT NULL,
    project TEXT NOT NULL,
    version TEXT NOT NULL,
    at BIGINT NOT NULL,
    yanked BIGINT NOT NULL,
    reason TEXT,
    PRIMARY KEY (source, project, version, at)
);

-- Named instants of a lane (`airlock snapshot create prod --name 2026-q4`).
CREATE TABLE snapshots (
    lane TEXT NOT NULL,
    name TEXT NOT NULL,
    at BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (lane, name)
);
