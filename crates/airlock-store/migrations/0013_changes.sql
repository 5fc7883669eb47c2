-- What each write changed, for the caches of every server sharing the database: the project
-- `project` of the source `source`, or everything ('*', '*': configuration, advisories,
-- approvals, snapshots). A revision with no row changed nothing a page is built from (tokens,
-- sessions, requests). Old rows are pruned; a server further behind starts its caches afresh.
CREATE TABLE changes (
    revision BIGINT NOT NULL,
    source TEXT NOT NULL,
    project TEXT NOT NULL,
    PRIMARY KEY (revision, source, project)
);
